"""Process entry points behind ``gridpeer demo`` / ``gridpeer serve``: settings, errors,
the printed URL, and exit codes (0 = clean stop, 2 = bad settings or port taken)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import typer
from pydantic import ValidationError

from gridpeer.core.clock import Clock, epoch_clock
from gridpeer.core.extras import require
from gridpeer.core.settings import ConfigError, Settings, load_settings
from gridpeer.runtime.composition import Parts
from gridpeer.runtime.demo import run_demo

log = logging.getLogger(__name__)


def _ready(parts: Parts) -> None:
    typer.echo(
        f"gridpeer demo: {len(parts.houses)} houses, {parts.clock.speed:g}× model time, "
        f"data in {parts.data_dir}"
    )
    if parts.broker is not None:
        typer.echo(f"MQTT broker on {parts.broker.host}:{parts.broker.port}")
    if parts.chain_url is not None:
        typer.echo(f"Ethereum JSON-RPC on {parts.chain_url} (for wallets and scripts)")
    typer.echo(f"Open {parts.url}/  (Ctrl-C stops everything)", err=False)
    # once the first rounds of the agents and the oracle have logged, say it again
    asyncio.get_running_loop().call_later(
        REMIND_AFTER_S, lambda: typer.echo(f"gridpeer demo is running: open {parts.url}/")
    )


REMIND_AFTER_S = 10.0
"""Wall seconds after start-up at which the demo prints its URL once more."""


def demo_main(
    port: int,
    speed: float,
    houses: int,
    duration_h: float | None,
    start_hour: float,
    data_dir: Path | None,
    chain: str = "embedded",
    agents: bool = True,
    design: str = "decentralized",
    strategy: str = "rule",
) -> int:
    """Run ``gridpeer demo``; returns the exit code."""
    require("demo", "gridpeer demo")
    from gridpeer.runtime.grid import demo_grid

    if duration_h is not None and duration_h <= 0:
        typer.echo("error: --duration must be > 0 model hours", err=True)
        return 2
    if not 0 <= start_hour < 24:
        typer.echo("error: --start-hour must be in [0, 24)", err=True)
        return 2
    try:
        settings = load_settings(
            None,
            houses=houses,
            speed=speed,
            data_dir=data_dir,
            web={"port": port},
            chain={"rpc_url": chain},
            agents=agents,
            market={"design": design, "strategy": strategy},
            grid=demo_grid(houses),  # the overview's feeder panel (None without pandapower)
        )
    except ValidationError as exc:
        typer.echo(f"error: {_errors(exc)}", err=True)
        return 2
    return _run(settings, start_hour, duration_h)


def _quiet_libraries() -> None:
    for name in ("amqtt", "transitions", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _run(settings: Settings, start_hour: float, duration_h: float | None) -> int:
    _quiet_libraries()
    if settings.web.port != 0:  # say it now, not after the houses are simulated
        from gridpeer.web.server import bind

        try:
            bind(settings.web.host, settings.web.port).close()
        except OSError as exc:
            typer.echo(f"error: {exc} (another demo? --port 0 picks a free port)", err=True)
            return 2
    typer.echo(f"gridpeer demo: simulating {settings.houses} houses…")
    try:
        asyncio.run(run_demo(settings, start_hour, duration_h, on_ready=_ready))
    except (OSError, ConnectionError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    typer.echo("gridpeer: stopped cleanly")
    return 0


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


def model_clock(speed: float, start: str | None, wall0: float | None) -> Clock | None:
    """``serve``'s model clock from ``--speed``, ``--clock-start`` (ISO 8601, UTC) and
    ``--clock-wall0`` (POSIX s): model time is ``start`` at ``wall0``, running ``speed``×;
    None (the wall clock) when none is given. Tests and benchmarks only."""
    if speed == 1.0 and start is None and wall0 is None:
        return None
    t0 = datetime.fromisoformat(start) if start else datetime.now(UTC)
    if t0.tzinfo is None:
        t0 = t0.replace(tzinfo=UTC)
    return epoch_clock(t0, speed, time.time() if wall0 is None else wall0)


def serve_main(
    config: Path, hosts: int | None = None, share: str | None = None, clock: Clock | None = None
) -> int:
    """Run ``gridpeer serve --config``; returns the exit code. ``hosts``: the ingest in
    that many ``gridpeer agents`` child processes (0: none), ``None``: in this one;
    ``share``: those children as members of that MQTT shared subscription, not shards.
    ``clock``: an accelerated/shifted model clock (tests and benchmarks; see
    :mod:`gridpeer.runtime.chain_clock`), else the wall clock."""
    if share is not None and not hosts:
        typer.echo("error: --share needs --hosts N (the children that share the houses)", err=True)
        return 2
    try:
        settings = load_settings(config)
    except (FileNotFoundError, ValidationError) as exc:
        msg = _errors(exc) if isinstance(exc, ValidationError) else str(exc)
        typer.echo(f"error: {msg}", err=True)
        return 2
    missing = [
        name
        for name, value in (
            ("web.session_secret", settings.web.session_secret),
            ("store_url", settings.store_url),
        )
        if value is None
    ]
    if settings.mqtt.embedded:
        missing.append("mqtt.embedded = false (serve uses an external broker)")
    if settings.chain.rpc_url == "embedded":
        missing.append("chain.rpc_url (a JSON-RPC URL)")
    if not settings.accounts:
        missing.append("[[accounts]] (the houses)")
    if clock is not None and hosts:
        typer.echo("error: --hosts cannot run on --speed/--clock-start's clock", err=True)
        return 2
    if missing:
        typer.echo(f"error: serve needs {', '.join(missing)} in {config}", err=True)
        return 2
    from gridpeer.runtime.composition import run_until_stopped
    from gridpeer.runtime.serve import serve_composition, serve_parts
    from gridpeer.web.server import run_loop

    _quiet_libraries()
    parts = serve_parts(settings, clock)

    def ready(p: Parts) -> None:
        typer.echo(f"gridpeer serve: {len(p.houses)} houses of {settings.community!r}")
        if p.hub is None:
            typer.echo("no chain.contract_address configured: trading is off")
        elif p.oracle is None:
            typer.echo("no [keys.oracle] configured: the oracle is off (nothing settles)")
        typer.echo(f"Open {p.url}/  (Ctrl-C stops)")

    try:
        run_loop(run_until_stopped(parts, serve_composition(hosts, share), on_ready=ready))
    except (OSError, ConnectionError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    typer.echo("gridpeer: stopped cleanly")
    return 0
