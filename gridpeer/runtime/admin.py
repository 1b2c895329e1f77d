"""What ``gridpeer admin …`` does: set up and run a community's market with real keys.

Every operation compares what is wanted with what the chain and the config file already
hold and does only the difference, so running it twice changes nothing the second time;
it writes back what it did into the community TOML (comments kept), and with
``dry_run`` it only says what it would do. Role keys live in encrypted keystores
(:mod:`gridpeer.chain.keystore`), referenced from ``[keys.<name>]``.

Units: money wei (ether = 10^18 wei), times seconds, schedule minutes of the local day.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address

from gridpeer.chain.client import MarketClient
from gridpeer.chain.dev_chains import DEV_CHAIN_IDS
from gridpeer.chain.events import DeliveryConfirmed, Reclaimed, TradeCreated
from gridpeer.chain.keystore import (
    KeystoreError,
    Prompt,
    ensure_password_file,
    keystore_address,
    new_keystore,
    read_password,
    unlock_key,
)
from gridpeer.chain.types import THESIS_SCHEDULE, Schedule, Trade
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.core.config_file import ConfigFile
from gridpeer.core.settings import ConfigError, Settings

ROLE_KEYS = ("admin", "oracle", "coordinator")
LOG_SPAN = 2_000
"""Most blocks read per ``eth_getLogs``."""


@dataclass
class Report:
    """What an operation did (or, in a dry run, would do), line by line."""

    dry_run: bool = False
    lines: list[str] = field(default_factory=list)

    def did(self, what: str) -> None:
        """Record a change (``would …`` in a dry run)."""
        self.lines.append(f"would {what}" if self.dry_run else what)

    def same(self, what: str) -> None:
        """Record something already as wanted."""
        self.lines.append(f"unchanged: {what}")


# ---------------------------------------------------------------------- parsing
def parse_duration(text: str) -> int:
    """Seconds in ``90s``, ``15m``, ``2h``, ``1d`` or a bare number of seconds.

    Raises:
        ValueError: anything else.
    """
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if m is None:
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 15m, 2h)")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _minutes(hhmm: str) -> int:
    h, _, m = hhmm.strip().partition(":")
    value = int(h) * 60 + int(m or 0)
    if not 0 <= value <= 1440:
        raise ValueError(f"not a time of day: {hhmm!r}")
    return value


def parse_windows(text: str) -> tuple[int, int, int, int, int, int]:
    """Two sessions ``BID-DELIVERY-END,BID-DELIVERY-END`` in local HH:MM (``thesis``: the
    thesis's 10:30-13:00-14:00,14:00-16:30-17:30) as the contract's six minutes.

    Raises:
        ValueError: not two sessions of three increasing times.
    """
    if text.strip() == "thesis":
        return THESIS_SCHEDULE.windows
    sessions = [s for s in text.split(",") if s.strip()]
    if len(sessions) != 2:
        raise ValueError("--windows needs two sessions: BID-DELIVERY-END,BID-DELIVERY-END")
    out: list[int] = []
    for s in sessions:
        times = [_minutes(t) for t in s.split("-")]
        if len(times) != 3 or not times[0] < times[1] < times[2]:
            raise ValueError(f"session {s!r}: bidding start < delivery start < delivery end")
        out += times
    b1, d1, e1, b2, d2, e2 = out
    return (b1, d1, e1, b2, d2, e2)


def utc_offset_minutes(timezone: str | None, when: datetime | None = None) -> int:
    """The UTC offset of the IANA zone ``timezone`` now (or at ``when``), minutes; 0 if
    None. The contract keeps a fixed offset: set the schedule again after a DST change."""
    if timezone is None:
        return 0
    from zoneinfo import ZoneInfo

    offset = (when or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


# ---------------------------------------------------------------------- keys
def _rel(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when inside it, else absolute (for the TOML)."""
    path = path.resolve()
    try:
        return str(path.relative_to(base.resolve()))
    except ValueError:
        return str(path)


def keys_new(
    cf: ConfigFile,
    name: str,
    report: Report,
    password_file: Path | None = None,
    prompt: Prompt | None = None,
    keys_dir: Path | None = None,
    iterations: int | None = None,
) -> str | None:
    """Make sure key ``name`` exists: an encrypted keystore ``keys_dir/name.json``
    (default ``keys/`` next to the config) recorded as ``[keys.<name>]``. The password
    comes from ``password_file`` (created with a random password if missing) or
    ``prompt``. Returns the key's address (None in a dry run that would create it).

    Raises:
        KeystoreError: no password source, or a keystore already exists where the new one
            would go but the config does not name it.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name):
        raise KeystoreError(f"key name {name!r}: letters, digits, - and _ only")
    base = cf.path.parent
    recorded = cf.get(f"keys.{name}.keystore")
    if recorded is not None and (base / recorded).exists():
        address = keystore_address(base / recorded)
        report.same(f"key {name} {address} in {recorded}")
        cf.setdefault(f"keys.{name}.address", address)
        return address
    path = (keys_dir or base / "keys") / f"{name}.json"
    if path.exists():
        address = keystore_address(path)
        report.did(f"record the existing keystore {path} ({address}) as [keys.{name}]")
    else:
        if password_file is None and prompt is None:
            raise KeystoreError("give --password-file or answer the password prompt")
        if report.dry_run:
            report.did(f"create key {name} in {path}")
            return None
        if password_file is not None:
            if ensure_password_file(password_file):
                report.did(f"write a random password into {password_file} (mode 600)")
            password = read_password(password_file)
        else:
            assert prompt is not None
            password = prompt(f"password for key {name}")
        address = new_keystore(path, password, iterations)
        report.did(f"create key {name} {address} in {path} (encrypted, mode 600)")
    cf.set(f"keys.{name}.keystore", _rel(path, base))
    cf.set(f"keys.{name}.address", address)
    if password_file is not None:
        cf.set(f"keys.{name}.password_file", _rel(password_file, base))
    return address


def key_address(settings: Settings, name: str) -> str:
    """The address of ``[keys.<name>]`` (from the config or its keystore file).

    Raises:
        ConfigError: no such key.
    """
    ref = settings.keys.get(name)
    if ref is None:
        raise ConfigError(f"no [keys.{name}]: create it with `gridpeer admin keys new {name}`")
    return ref.address or keystore_address(ref.keystore)


def signer(settings: Settings, name: str, prompt: Prompt | None = None) -> LocalAccount:
    """The unlocked account of ``[keys.<name>]``.

    Raises:
        ConfigError: no such key. KeystoreError: it cannot be unlocked.
    """
    ref = settings.keys.get(name)
    if ref is None:
        raise ConfigError(f"no [keys.{name}]: create it with `gridpeer admin keys new {name}`")
    return unlock_key(ref, name, prompt)


# ---------------------------------------------------------------------- init
def init_config(
    cf: ConfigFile,
    report: Report,
    community: str | None = None,
    store_url: str | None = None,
    rpc_url: str | None = None,
    mqtt_host: str | None = None,
    mqtt_port: int | None = None,
    web_host: str | None = None,
    web_port: int | None = None,
    timezone: str | None = None,
) -> None:
    """A community config with everything ``serve`` needs but the houses and the market:
    the given values set, the rest kept or defaulted; the web session secret and the
    services' MQTT password generated once (never replaced)."""
    wanted: list[tuple[str, object, str | None]] = [
        ("community", community, None),
        ("timezone", timezone, "IANA zone: 'today' and daily charts start at its midnight"),
        ("store_url", store_url, "or GRIDPEER_STORE_URL"),
        ("web.host", web_host, None),
        ("web.port", web_port, None),
        ("mqtt.embedded", False, "an external Mosquitto: gridpeer broker-config writes it"),
        ("mqtt.host", mqtt_host, None),
        ("mqtt.port", mqtt_port, None),
        ("chain.rpc_url", rpc_url, "any Ethereum JSON-RPC node"),
    ]
    defaults = {
        "community": "my-community",
        "store_url": "postgresql://gridpeer@127.0.0.1:5432/gridpeer",
        "web.host": "127.0.0.1",
        "web.port": 8000,
        "mqtt.host": "127.0.0.1",
        "mqtt.port": 1883,
        "chain.rpc_url": "http://127.0.0.1:8545",
    }
    for dotted, value, comment in wanted:
        if value is None:
            value = defaults.get(dotted)
            if value is None or cf.get(dotted) is not None:
                continue
        if cf.set(dotted, value, comment):
            report.did(f"set {dotted} = {value!r}")
        else:
            report.same(f"{dotted} = {value!r}")
    if cf.setdefault(
        "web.session_secret", secrets.token_urlsafe(32), "signs session cookies: keep it secret"
    ):
        report.did("generate web.session_secret")
    if cf.setdefault("mqtt.username", "gridpeer-services"):
        report.did("set mqtt.username = 'gridpeer-services'")
    if cf.setdefault("mqtt.password", secrets.token_urlsafe(24), "the services' MQTT account"):
        report.did("generate mqtt.password")


# ---------------------------------------------------------------------- chain
def open_market(settings: Settings) -> MarketClient:
    """The deployed market of ``settings`` over its JSON-RPC node.

    Raises:
        ConfigError: no ``chain.contract_address`` yet, or the node's chain id differs.
        ConnectionError: the node does not answer.
    """
    backend = open_backend(settings)
    address = settings.chain.contract_address
    if address is None:
        raise ConfigError("no chain.contract_address: deploy first (`gridpeer admin deploy`)")
    return MarketClient(backend, address)


def open_backend(settings: Settings) -> Web3Backend:
    """The JSON-RPC node of ``chain.rpc_url``, checked against ``chain.chain_id``.

    Raises:
        ConfigError: the node's chain id is not the configured one, or no URL.
        ConnectionError: the node does not answer.
    """
    url = settings.chain.rpc_url
    if url == "embedded":
        raise ConfigError("chain.rpc_url must be a JSON-RPC URL (e.g. http://127.0.0.1:8545)")
    backend = Web3Backend.rpc(url)
    want = settings.chain.chain_id
    if want is not None and backend.chain_id != want:
        raise ConfigError(f"the node at {url} is chain {backend.chain_id}, not chain_id {want}")
    return backend


def deploy(
    cf: ConfigFile,
    settings: Settings,
    report: Report,
    grace_s: int,
    prompt: Prompt | None = None,
) -> str | None:
    """Make sure the market is deployed: with the ``admin`` key paying, the ``oracle`` and
    ``coordinator`` keys' addresses as those roles, ``grace_s`` as its grace. Writes
    ``chain.contract_address``, ``deploy_block`` and ``chain_id``. Returns the address
    (None in a dry run that would deploy).

    Raises:
        ConfigError: a role key is missing, the configured address holds no contract, or
            the deployed market's roles are other accounts than the keys.
    """
    roles = {r: key_address(settings, r) for r in ROLE_KEYS}
    if len({a.lower() for a in roles.values()}) != 3:
        raise ConfigError("admin, oracle and coordinator must be three different keys")
    backend = open_backend(settings)
    _check_grace(settings, grace_s, backend.chain_id)
    address = settings.chain.contract_address
    if address is not None:
        code = backend.w3.eth.get_code(to_checksum_address(address))
        if not code:
            raise ConfigError(
                f"chain.contract_address {address} holds no contract on {settings.chain.rpc_url}"
                " (a fresh chain?): remove it from the config to deploy a new market"
            )
        market = MarketClient(backend, address)
        on_chain = market.roles()
        wrong = [r for r in ROLE_KEYS if on_chain[r].lower() != roles[r].lower()]
        if wrong:
            raise ConfigError(
                "the deployed market's "
                + ", ".join(f"{r} is {on_chain[r]} (key {roles[r]})" for r in wrong)
            )
        report.same(f"market {market.address} (admin, oracle, coordinator as the keys)")
        cf.setdefault("chain.chain_id", backend.chain_id)
        return market.address
    if report.dry_run:
        report.did(f"deploy the market on chain {backend.chain_id} (grace {grace_s} s)")
        return None
    admin = signer(settings, "admin", prompt)
    market = MarketClient.deploy(backend, admin, roles["oracle"], roles["coordinator"], grace_s)
    receipt = market.last_receipt
    assert receipt is not None
    report.did(f"deploy the market at {market.address} in block {receipt.block_number}")
    cf.set("chain.chain_id", backend.chain_id)
    cf.set("chain.contract_address", market.address, "the deployed EnergyMarket")
    cf.set("chain.deploy_block", receipt.block_number)
    cf.set("schedule.grace_s", grace_s)
    return market.address


def fund(
    settings: Settings, names: list[str], wei: int, report: Report, force: bool = False
) -> None:
    """Top up every named key (``[keys.<name>]``), house (its member address) or 0x
    address to at least ``wei``, on a development chain (anvil, Hardhat).

    Raises:
        ConfigError: an unknown name, or not a development chain (unless ``force``).
    """
    backend = open_backend(settings)
    if backend.chain_id not in DEV_CHAIN_IDS and not force:
        raise ConfigError(
            f"chain {backend.chain_id} is not a development chain: fund real accounts from a "
            "wallet (or --force on a private test net whose node can set balances)"
        )
    houses = {a.id: a.address for a in settings.accounts}
    for name in names:
        if is_address(name):
            address: str = to_checksum_address(name)
        elif name in settings.keys:
            address = key_address(settings, name)
        elif houses.get(name):
            address = str(houses[name])
        else:
            raise ConfigError(f"{name!r} is neither a key, a house with an address, nor 0x…")
        have = backend.balance(address)
        label = f"{name} {address}" if name != address else address
        if have >= wei:
            report.same(f"{label} has {have / 1e18:g} ether")
            continue
        report.did(f"fund {label} to {wei / 1e18:g} ether (had {have / 1e18:g})")
        if not report.dry_run:
            backend.fund(address, wei - have)


def _member_address(settings: Settings, address: str) -> str:
    if is_address(address):
        return str(to_checksum_address(address))
    if address in settings.keys:
        return key_address(settings, address)
    raise ConfigError(f"{address!r} is neither an 0x… address nor a [keys] name")


def members_add(
    cf: ConfigFile,
    settings: Settings,
    house: str,
    address: str,
    report: Report,
    prompt: Prompt | None = None,
    info: dict[str, str | float] | None = None,
) -> None:
    """Make ``address`` (0x… or a ``[keys]`` name) a member of the market and the member
    account of ``house`` (``[[accounts]]``, created with a random MQTT password if new);
    ``info`` sets the house's display fields (``name``, ``kind``, ``pv_kwp``, ``bess_kwh``).

    Raises:
        ConfigError: another house has this address already.
    """
    address = _member_address(settings, address)
    for a in settings.accounts:
        if a.id != house and a.address and a.address.lower() == address.lower():
            raise ConfigError(f"{address} is house {a.id}'s member: remove it there first")
    table = cf.account(house)
    if table is None:
        report.did(f"add house {house} to [[accounts]] (with a random MQTT password)")
        table = cf.add_account(house)
    if cf.set_in(table, "address", address):
        report.did(f"set house {house}'s address = {address}")
    else:
        report.same(f"house {house}'s address {address}")
    if "mqtt_password" not in table or table.get("mqtt_password") in ("", "CHANGE-ME"):
        cf.set_in(table, "mqtt_password", secrets.token_urlsafe(18))
    for key, value in (info or {}).items():
        if cf.set_in(table, key, value):
            report.did(f"set house {house}'s {key} = {value!r}")
    market = open_market(settings)
    if market.member(address)[1]:
        report.same(f"{address} is a member of the market")
        return
    report.did(f"register {address} as a member of the market")
    if not report.dry_run:
        market.add_member(signer(settings, "admin", prompt), address)


def members_remove(
    cf: ConfigFile, settings: Settings, house: str, report: Report, prompt: Prompt | None = None
) -> None:
    """Stop ``house``'s member account from trading (it keeps its open trades and credit)
    and unmap it from the house (the house and its telemetry stay).

    Raises:
        ConfigError: no such house.
    """
    table = cf.account(house)
    if table is None:
        raise ConfigError(f"no house {house!r} in [[accounts]]")
    address = table.get("address")
    if address is None:
        report.same(f"house {house} has no member address")
        return
    market = open_market(settings)
    if market.member(str(address))[1]:
        report.did(f"remove {address} from the market's members")
        if not report.dry_run:
            market.remove_member(signer(settings, "admin", prompt), str(address))
    else:
        report.same(f"{address} is not an active member")
    cf.remove_in(table, "address")
    report.did(f"unmap {address} from house {house}")


def schedule_set(
    cf: ConfigFile,
    settings: Settings,
    schedule: Schedule,
    grace_s: int | None,
    report: Report,
    prompt: Prompt | None = None,
) -> None:
    """Make the contract enforce ``schedule`` (and ``grace_s`` if given); record both in
    ``[schedule]``.

    Raises:
        ConfigError: the grace is too short for the ``[oracle]`` timings (the oracle
            could not settle before buyers may reclaim).
    """
    market = open_market(settings)
    if grace_s is not None:
        _check_grace(settings, grace_s, market.backend.chain_id)
    admin: list[LocalAccount] = []

    def key() -> LocalAccount:
        if not admin:
            admin.append(signer(settings, "admin", prompt))
        return admin[0]

    current = market.schedule()
    if current == schedule or (
        schedule.mode != "windows"
        and (current.mode, current.tz_minutes) == (schedule.mode, schedule.tz_minutes)
        and (schedule.mode == "open" or current.slot_minutes == schedule.slot_minutes)
    ):
        report.same(f"schedule {describe(current)}")
    else:
        report.did(f"set the schedule to {describe(schedule)} (was {describe(current)})")
        if not report.dry_run:
            market.set_schedule(key(), schedule)
    if grace_s is not None:
        have = market.grace_seconds()
        if have == grace_s:
            report.same(f"grace {grace_s} s")
        else:
            report.did(f"set the grace to {grace_s} s (was {have} s)")
            if not report.dry_run:
                market.set_grace(key(), grace_s)
        cf.set("schedule.grace_s", grace_s)
    cf.set("schedule.mode", schedule.mode)
    cf.set("schedule.tz_minutes", schedule.tz_minutes)
    if schedule.mode == "continuous":
        cf.set("schedule.slot_minutes", schedule.slot_minutes)
    if schedule.mode == "windows":
        cf.set("schedule.windows", list(schedule.windows))


def _check_grace(settings: Settings, grace_s: int, chain_id: int) -> None:
    from gridpeer.oracle.settings import OracleTimingError
    from gridpeer.runtime.serve import oracle_settings

    try:
        oracle_settings(settings, chain_id).check_grace(grace_s)
    except OracleTimingError as exc:
        raise ConfigError(f"--grace {grace_s} s: {exc}") from None


def describe(s: Schedule) -> str:
    """``continuous 15-min slots (UTC-03:00)`` and the like."""
    sign = "+" if s.tz_minutes >= 0 else "-"
    tz = f"UTC{sign}{abs(s.tz_minutes) // 60:02d}:{abs(s.tz_minutes) % 60:02d}"
    if s.mode == "open":
        return f"open ({tz})"
    if s.mode == "continuous":
        return f"continuous {s.slot_minutes}-min slots ({tz})"

    def hm(m: int) -> str:
        return f"{m // 60:02d}:{m % 60:02d}"

    b1, d1, e1, b2, d2, e2 = s.windows
    return (
        f"windows: bids {hm(b1)}-{hm(d1)} deliver {hm(d1)}-{hm(e1)}, "
        f"bids {hm(b2)}-{hm(d2)} deliver {hm(d2)}-{hm(e2)} ({tz})"
    )


# ---------------------------------------------------------------------- state
def trades_since(market: MarketClient, from_block: int) -> tuple[list[Trade], int]:
    """(every trade created since ``from_block`` still open, how many were settled or
    reclaimed), reading logs in chunks of :data:`LOG_SPAN` blocks."""
    head = market.backend.block_number()
    created: dict[int, Trade] = {}
    closed: set[int] = set()
    for start in range(from_block, head + 1, LOG_SPAN):
        for ev in market.events(start, min(head, start + LOG_SPAN - 1)):
            if isinstance(ev, TradeCreated):
                created[ev.trade.id] = ev.trade
            elif isinstance(ev, DeliveryConfirmed | Reclaimed):
                closed.add(ev.trade_id)
    open_ = [t for tid, t in sorted(created.items()) if tid not in closed]
    return [t for t in open_ if market.trade(t.id) is not None], len(closed)


def state(settings: Settings, now: int | None = None) -> list[str]:
    """The community's state as text lines: market and roles, schedule, members with
    their houses, credit and ether, open trades and pending deliveries (from the chain,
    and as the oracle sees them in its state table when ``store_url`` is set)."""
    market = open_market(settings)
    backend = market.backend
    t = market.now() if now is None else now
    houses = {a.address.lower(): a.id for a in settings.accounts if a.address}
    names = {a.lower(): n for n, k in settings.keys.items() if (a := k.address)}
    lines = [
        f"market {market.address} on chain {backend.chain_id} ({settings.chain.rpc_url}), "
        f"block {backend.block_number()}, holds {market.balance() / 1e18:.6f} ether",
        f"schedule: {describe(market.schedule())}; grace {market.grace_seconds()} s",
        "roles:",
    ]
    for role, addr in market.roles().items():
        key = names.get(addr.lower(), "not a configured key")
        lines.append(f"  {role:<12} {addr}  [{key}]  {backend.balance(addr) / 1e18:.6f} ether")
    lines.append(f"members ({market.member_count()}):")
    for idx in range(1, market.member_count() + 1):
        addr = market.member_address(idx)
        active = market.member(addr)[1]
        house = houses.pop(addr.lower(), None)
        lines.append(
            f"  #{idx} {addr}  house {house or '(none in the config)'}"
            f"  {'active' if active else 'removed'}"
            f"  credit {market.credit_of_index(idx) / 1e18:.6f}"
            f"  wallet {backend.balance(addr) / 1e18:.6f} ether"
        )
    for addr, house in houses.items():
        lines.append(f"  house {house}'s address {addr} is NOT a member")
    open_trades, closed = trades_since(market, settings.chain.deploy_block)
    lines.append(f"open trades ({len(open_trades)}; {closed} settled or reclaimed):")
    for tr in open_trades:
        lines.append(f"  {_trade_line(tr, t, houses_of(settings))}")
    pending = [tr for tr in open_trades if tr.start <= t]
    lines.append(f"pending deliveries ({len(pending)}): window begun, not settled")
    for tr in pending:
        lines.append(f"  trade {tr.id}: {_phase(tr, t)}")
    if settings.store_url is not None:  # the oracle's own view, from its state table
        from gridpeer.runtime.admin_oracle import oracle_lines, read_oracle_trades

        try:
            rows = read_oracle_trades(settings.store_url)
        except Exception as exc:  # the store is down: the chain's view above still holds
            lines.append(f"oracle's view: cannot read the store ({exc})")
        else:
            lines += oracle_lines(rows, datetime.fromtimestamp(t, UTC), houses_of(settings))
    return lines


def houses_of(settings: Settings) -> dict[str, str]:
    """Member address (lower case) → house id, from ``[[accounts]]``."""
    return {a.address.lower(): a.id for a in settings.accounts if a.address}


def _phase(tr: Trade, now: int) -> str:
    if tr.disputed:
        return "disputed: the admin resolves it"
    if now < tr.start:
        return "waiting for its window"
    if now < tr.end:
        return f"delivering until {_ts(tr.end)}"
    if now < tr.reclaimable_at:
        return f"metered, awaiting settlement (reclaimable from {_ts(tr.reclaimable_at)})"
    return "past its grace: the buyer may reclaim"


def _trade_line(tr: Trade, now: int, houses: dict[str, str]) -> str:
    seller = houses.get(tr.seller.lower(), tr.seller)
    buyer = houses.get(tr.buyer.lower(), tr.buyer)
    return (
        f"trade {tr.id}: {seller} -> {buyer} {tr.wh} Wh at {tr.price} wei/kWh, "
        f"window {_ts(tr.start)}-{_ts(tr.end)}, escrow {tr.escrow} wei; {_phase(tr, now)}"
    )


def _ts(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
