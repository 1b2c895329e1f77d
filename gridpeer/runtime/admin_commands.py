"""``gridpeer admin …``: set up and look after a served community (docs/deploy.md).

Every subcommand reads and writes the community TOML (``--config``, comments kept), is
idempotent (a second run changes nothing) and has ``--dry-run`` (say what would change,
change nothing). The logic is in :mod:`gridpeer.runtime.admin`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gridpeer.core.help import FlagHelpCommand, FlagHelpGroup

if TYPE_CHECKING:
    from gridpeer.core.config_file import ConfigFile
    from gridpeer.core.settings import Settings
    from gridpeer.runtime.admin import Report

Config = Annotated[
    Path, typer.Option("--config", "-c", help="The community TOML (written back in place).")
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", "-n", help="Say what would change; change nothing.")
]


def _prompt(confirm: bool) -> Callable[[str], str]:
    def ask(text: str) -> str:
        return str(typer.prompt(text.capitalize(), hide_input=True, confirmation_prompt=confirm))

    return ask


@contextmanager
def _admin(
    config: Path, dry_run: bool, need_file: bool = True, read_only: bool = False
) -> Iterator[tuple[ConfigFile, Settings | None, Report]]:
    """Open the config for editing, load its settings, print the report, save unless a
    dry run (also what was done before a failure); every expected failure exits 2 with
    its message."""
    from pydantic import ValidationError

    from gridpeer.chain.errors import ContractRevert
    from gridpeer.chain.keystore import KeystoreError
    from gridpeer.core.config_file import ConfigFile
    from gridpeer.core.settings import ConfigError, load_settings
    from gridpeer.runtime.admin import Report

    report = Report(dry_run=dry_run)
    cf: ConfigFile | None = None
    try:
        if need_file and not config.is_file():
            raise FileNotFoundError(
                f"config file not found: {config} (create it with `gridpeer admin init`)"
            )
        cf = ConfigFile(config)
        settings = load_settings(config) if config.is_file() else None
        yield cf, settings, report
    except (
        ConfigError,
        KeystoreError,
        ContractRevert,
        ConnectionError,
        FileNotFoundError,
        ValueError,
    ) as exc:
        for line in report.lines:
            typer.echo(line)
        msg = str(exc)
        if isinstance(exc, ValidationError):
            msg = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
        typer.echo(f"error: {msg}", err=True)
        if cf is not None and not dry_run and cf.save():
            typer.echo(f"wrote what was done so far to {config}")
        raise typer.Exit(2) from None
    for line in report.lines:
        typer.echo(line)
    if read_only:
        return
    if dry_run:
        typer.echo("dry run: nothing changed")
    elif cf.save():
        typer.echo(f"wrote {config}")


def _settings(settings: Settings | None) -> Settings:
    assert settings is not None  # _admin loads it whenever the file exists
    return settings


def register(app: typer.Typer) -> None:
    """Add the ``admin`` command group to the CLI."""
    admin = typer.Typer(
        help="Set up and run a community: keys, market contract, members, schedule, state, "
        "disputes. "
        "Idempotent; each writes back to the config; --dry-run changes nothing.",
        no_args_is_help=True,
        cls=FlagHelpGroup,
    )
    keys = typer.Typer(
        help="Encrypted keystores of the role accounts.", no_args_is_help=True, cls=FlagHelpGroup
    )
    members = typer.Typer(
        help="Member accounts of the houses.", no_args_is_help=True, cls=FlagHelpGroup
    )
    schedule = typer.Typer(
        help="The trading schedule and grace.", no_args_is_help=True, cls=FlagHelpGroup
    )

    @admin.command("init", cls=FlagHelpCommand)
    def init(
        config: Config = Path("community.toml"),
        community: Annotated[str | None, typer.Option(help="Community id (MQTT topics).")] = None,
        store_url: Annotated[
            str | None, typer.Option(help="postgresql://user:password@host:port/db")
        ] = None,
        rpc_url: Annotated[str | None, typer.Option(help="Ethereum JSON-RPC URL.")] = None,
        mqtt_host: Annotated[str | None, typer.Option(help="Mosquitto's address.")] = None,
        mqtt_port: Annotated[int | None, typer.Option(help="Mosquitto's port.")] = None,
        web_host: Annotated[str | None, typer.Option(help="Web app address.")] = None,
        web_port: Annotated[int | None, typer.Option(help="Web app port.")] = None,
        timezone: Annotated[
            str | None, typer.Option(help="IANA time zone, e.g. America/Santiago.")
        ] = None,
        dry_run: DryRun = False,
    ) -> None:
        """Write (or complete) the community config: store, broker, chain, web; generates
        the session secret and the services' MQTT password once."""
        from gridpeer.runtime.admin import init_config

        with _admin(config, dry_run, need_file=False) as (cf, _, report):
            init_config(
                cf,
                report,
                community=community,
                store_url=store_url,
                rpc_url=rpc_url,
                mqtt_host=mqtt_host,
                mqtt_port=mqtt_port,
                web_host=web_host,
                web_port=web_port,
                timezone=timezone,
            )

    @keys.command("new", cls=FlagHelpCommand)
    def keys_new(
        name: Annotated[str, typer.Argument(help="Key name: admin, oracle, coordinator, …")],
        config: Config = Path("community.toml"),
        password_file: Annotated[
            Path | None,
            typer.Option(
                help="File with the keystore's password (created with a random one if "
                "missing, mode 600); without it the password is asked for."
            ),
        ] = None,
        keys_dir: Annotated[
            Path | None, typer.Option("--dir", help="Keystore directory (default: keys/).")
        ] = None,
        dry_run: DryRun = False,
    ) -> None:
        """Create an encrypted keystore for NAME and record it in the config (keys.NAME) (never a
        plaintext key); an existing one is kept."""
        from gridpeer.runtime.admin import keys_new as new

        with _admin(config, dry_run) as (cf, _, report):
            new(
                cf,
                name,
                report,
                password_file,
                None if password_file else _prompt(confirm=True),
                keys_dir,
            )

    @admin.command("deploy", cls=FlagHelpCommand)
    def deploy(
        config: Config = Path("community.toml"),
        grace: Annotated[
            str, typer.Option(help="Grace after a delivery window before a buyer may reclaim.")
        ] = "1h",
        dry_run: DryRun = False,
    ) -> None:
        """Deploy the market contract with the admin key paying and the oracle and
        coordinator keys in their roles (on chain.rpc_url); records its address."""
        from gridpeer.runtime.admin import deploy as run
        from gridpeer.runtime.admin import parse_duration

        with _admin(config, dry_run) as (cf, settings, report):
            run(cf, _settings(settings), report, parse_duration(grace), _prompt(False))

    @admin.command("fund", cls=FlagHelpCommand)
    def fund(
        names: Annotated[list[str], typer.Argument(help="Key names, house ids or 0x addresses.")],
        config: Config = Path("community.toml"),
        ether: Annotated[float, typer.Option(help="Top each up to this balance.")] = 10.0,
        force: Annotated[
            bool, typer.Option(help="Also on a chain that is not a development chain.")
        ] = False,
        dry_run: DryRun = False,
    ) -> None:
        """Development chains (anvil, Hardhat): top accounts up to --ether."""
        from gridpeer.runtime.admin import fund as run

        with _admin(config, dry_run) as (_, settings, report):
            run(_settings(settings), names, int(ether * 10**18), report, force)

    @members.command("add", cls=FlagHelpCommand)
    def members_add(
        house: Annotated[str, typer.Argument(help="House id (as in [[accounts]]).")],
        address: Annotated[str, typer.Argument(help="The member's 0x address, or a key name.")],
        config: Config = Path("community.toml"),
        name: Annotated[str | None, typer.Option(help="The house's display name.")] = None,
        kind: Annotated[
            str | None, typer.Option(help="pv_bess, pv or consumer (the house's equipment).")
        ] = None,
        pv_kwp: Annotated[float | None, typer.Option(help="PV peak power, kWp.")] = None,
        bess_kwh: Annotated[float | None, typer.Option(help="Battery capacity, kWh.")] = None,
        dry_run: DryRun = False,
    ) -> None:
        """Register ADDRESS as a member of the market and map it to HOUSE."""
        from gridpeer.runtime.admin import members_add as run

        if kind not in (None, "pv_bess", "pv", "consumer"):
            typer.echo(f"error: --kind {kind}: pv_bess, pv or consumer", err=True)
            raise typer.Exit(2)
        fields = {"name": name, "kind": kind, "pv_kwp": pv_kwp, "bess_kwh": bess_kwh}
        info = {k: v for k, v in fields.items() if v is not None}
        with _admin(config, dry_run) as (cf, settings, report):
            run(cf, _settings(settings), house, address, report, _prompt(False), info)

    @members.command("remove", cls=FlagHelpCommand)
    def members_remove(
        house: Annotated[str, typer.Argument(help="House id.")],
        config: Config = Path("community.toml"),
        dry_run: DryRun = False,
    ) -> None:
        """Stop HOUSE's member account from trading (open trades and credit stay its own)
        and unmap it from the house."""
        from gridpeer.runtime.admin import members_remove as run

        with _admin(config, dry_run) as (cf, settings, report):
            run(cf, _settings(settings), house, report, _prompt(False))

    @schedule.command("set", cls=FlagHelpCommand)
    def schedule_set(
        config: Config = Path("community.toml"),
        windows: Annotated[
            str | None,
            typer.Option(
                help="Two sessions BID-DELIVERY-END,BID-DELIVERY-END in local HH:MM, or "
                "'thesis' (10:30-13:00-14:00,14:00-16:30-17:30)."
            ),
        ] = None,
        continuous: Annotated[
            str | None,
            typer.Option(help="Continuous slots of this length (e.g. 15m; divides a day)."),
        ] = None,
        open_: Annotated[
            bool, typer.Option("--open", help="Any window, any time (testing).")
        ] = False,
        tz_minutes: Annotated[
            int | None,
            typer.Option(help="Local time = UTC + this (default: the config's timezone now)."),
        ] = None,
        grace: Annotated[
            str | None, typer.Option(help="Grace before reclaim, e.g. 10m (unchanged if unset).")
        ] = None,
        dry_run: DryRun = False,
    ) -> None:
        """Set the trading schedule (thesis windows, continuous slots or open) and grace."""
        from gridpeer.chain.types import Schedule
        from gridpeer.runtime.admin import (
            parse_duration,
            parse_windows,
            utc_offset_minutes,
        )
        from gridpeer.runtime.admin import (
            schedule_set as run,
        )

        with _admin(config, dry_run) as (cf, settings, report):
            s = _settings(settings)
            if sum((windows is not None, continuous is not None, open_)) != 1:
                raise ValueError("give exactly one of --windows, --continuous, --open")
            tz = tz_minutes if tz_minutes is not None else utc_offset_minutes(s.timezone)
            if continuous is not None:
                slot = parse_duration(continuous)
                if slot % 60 or not 0 < slot // 60 <= 255 or 1440 % (slot // 60):
                    raise ValueError(f"--continuous {continuous}: whole minutes dividing a day")
                sched = Schedule("continuous", tz, slot // 60)
            elif windows is not None:
                sched = Schedule("windows", tz, windows=parse_windows(windows))
            else:
                sched = Schedule("open", tz)
            g = parse_duration(grace) if grace is not None else None
            run(cf, s, sched, g, report, _prompt(False))

    @admin.command("state", cls=FlagHelpCommand)
    def state(
        config: Config = Path("community.toml"),
        dry_run: DryRun = False,
    ) -> None:
        """Show the market: roles, schedule, members and their houses, balances, open
        trades and pending deliveries, from the chain and, with store_url, as the oracle
        sees them (reads only; --dry-run is accepted and changes
        nothing either)."""
        from gridpeer.runtime.admin import state as run

        del dry_run  # reads only
        with _admin(config, True, read_only=True) as (_, settings, report):
            report.lines += run(_settings(settings))

    admin.add_typer(keys, name="keys")
    admin.add_typer(members, name="members")
    admin.add_typer(schedule, name="schedule")
    _register_disputes(admin)
    app.add_typer(admin, name="admin")


def _register_disputes(admin: typer.Typer) -> None:
    """Add the ``disputes`` group to the ``admin`` command group."""
    disputes = typer.Typer(
        help="Trades whose meters disagreed: list them, settle one with the admin key.",
        no_args_is_help=True,
        cls=FlagHelpGroup,
    )

    @disputes.command("list", cls=FlagHelpCommand)
    def list_(
        config: Config = Path("community.toml"),
        dry_run: DryRun = False,
    ) -> None:
        """The open disputes on chain: houses, window (local time), traded and reported
        Wh, price, escrow, the buyer's reclaim and, with store_url, the oracle's reason
        (reads only; --dry-run is accepted and changes nothing either)."""
        from gridpeer.runtime.admin_disputes import disputes_list

        del dry_run  # reads only
        with _admin(config, True, read_only=True) as (_, settings, report):
            report.lines += disputes_list(_settings(settings))

    @disputes.command("resolve", cls=FlagHelpCommand)
    def resolve(
        trade_id: Annotated[int, typer.Argument(help="The disputed trade's id (as listed).")],
        delivered_wh: Annotated[
            int,
            typer.Option("--delivered-wh", help="Wh the seller delivered (0 to the traded Wh)."),
        ],
        config: Config = Path("community.toml"),
        source: Annotated[
            str | None,
            typer.Option(help="Who measured it, e.g. 'feeder meter' (shown in the report)."),
        ] = None,
        dry_run: DryRun = False,
    ) -> None:
        """Settle disputed TRADE_ID with the admin key: the seller is paid for
        --delivered-wh, the buyer refunded the rest of the escrow. A trade already settled
        is left as it is."""
        from gridpeer.runtime.admin_disputes import dispute_resolve

        with _admin(config, dry_run) as (_, settings, report):
            dispute_resolve(
                _settings(settings), trade_id, delivered_wh, report, source, _prompt(False)
            )

    admin.add_typer(disputes, name="disputes")
