"""``gridpeer agents``: the houses' ingest and delivery agents in a process of their own
(:mod:`gridpeer.runtime.agents`)."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from gridpeer.core.help import FlagHelpCommand

log = logging.getLogger(__name__)


def agents(
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            help="Community TOML: its community id, mqtt table (the shared broker, the services' "
            "account), store_url (the shared PostgreSQL) and accounts (houses, devices).",
        ),
    ],
    houses: Annotated[
        str | None,
        typer.Option(
            help="Houses of this process: ids and ranges, e.g. h1-h500 or h1,h7,h20-h29 "
            "(default: all).",
        ),
    ] = None,
    share: Annotated[
        str | None,
        typer.Option(
            help="Ingest every house as a member of this MQTT shared-subscription group "
            "($share/GROUP/…) with the other processes given the same GROUP; --houses then "
            "selects only the deliveries this process drives.",
        ),
    ] = None,
    member: Annotated[
        str | None,
        typer.Option(
            help="This process's stable name in the --share group (its persistent MQTT "
            "sessions); restart a dead member under the same name (default: the host name).",
        ),
    ] = None,
    delivery: Annotated[
        bool,
        typer.Option(
            "--delivery/--no-delivery",
            help="Run the houses' delivery agents (off: ingest only).",
        ),
    ] = True,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of the delivery agents' state files (default: data_dir/agents)."),
    ] = None,
    simulated_meter: Annotated[
        bool,
        typer.Option(
            help="SIMULATION ONLY: switch no relay and meter a constant --out-w / --in-w "
            "for every house. Never for real trades.",
        ),
    ] = False,
    out_w: Annotated[float, typer.Option(help="Simulated OUT power, W.")] = 2000.0,
    in_w: Annotated[float, typer.Option(help="Simulated IN power, W.")] = 2000.0,
    group_size: Annotated[
        int, typer.Option(help="Houses per MQTT session (2 threads per group and role).")
    ] = 50,
    speed: Annotated[float, typer.Option(help="Model seconds per wall second.")] = 1.0,
    clock_start: Annotated[
        str | None, typer.Option(help="Model time (ISO 8601, UTC) at --clock-wall0.")
    ] = None,
    clock_wall0: Annotated[
        float | None, typer.Option(help="POSIX wall time at which the model clock starts.")
    ] = None,
) -> None:
    """Run the ingest and delivery agents of some houses until SIGTERM / SIGINT, against
    the config's shared broker and store (several such processes can share a community)."""
    from pydantic import ValidationError

    from gridpeer.core.clock import Clock, epoch_clock
    from gridpeer.core.settings import load_settings
    from gridpeer.runtime.agents import READY, AgentsProcess, default_member, select_houses
    from gridpeer.store.factory import open_store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        settings = load_settings(config)
        selected = select_houses(houses, [a.id for a in settings.accounts])
    except (OSError, ValidationError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if share and delivery and not houses:
        typer.echo(
            "error: --share needs --houses (the deliveries this member drives: each house's "
            "relays need exactly one driver) or --no-delivery",
            err=True,
        )
        raise typer.Exit(2)
    if settings.store_url is None:
        typer.echo(f"error: gridpeer agents needs store_url in {config}", err=True)
        raise typer.Exit(2)
    start = datetime.fromisoformat(clock_start) if clock_start else datetime.now(UTC)
    clock = (
        epoch_clock(start, speed, clock_wall0)
        if clock_wall0 is not None
        else Clock(start=start, speed=speed)
    )
    store = open_store(settings.store_url)
    base = settings.data_dir or Path(".")
    try:
        process = AgentsProcess(
            settings,
            selected,
            store,
            clock,
            state_dir or base / "agents",
            share=share,
            member=member or default_member(),
            delivery=delivery,
            simulated_meter=(out_w, in_w) if simulated_meter else None,
            group_size=group_size,
        )
        process.start()
    except (OSError, ConnectionError, ValidationError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        store.close()
        raise typer.Exit(2) from exc
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    n_delivery = len(selected) if delivery else 0
    typer.echo(
        f"{READY}: ingest of {len(process.ingest_houses)} houses"
        f"{f' (shared as {share!r})' if share else ''}, delivery of {n_delivery}"
    )
    done.wait()
    process.stop()
    store.close()
    log.info("stopped; %d readings stored", process.stored())


def register(app: typer.Typer) -> None:
    """Add ``agents`` to the ``gridpeer`` app."""
    app.command("agents", cls=FlagHelpCommand)(agents)
