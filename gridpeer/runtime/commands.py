"""``gridpeer demo`` and ``gridpeer serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridpeer.core.defaults import DEFAULT_HOUSES, DEFAULT_SPEED
from gridpeer.core.help import FlagHelpCommand


def register(app: typer.Typer) -> None:
    """Add ``demo`` and ``serve`` to the CLI."""

    @app.command(cls=FlagHelpCommand)
    def demo(
        port: Annotated[
            int,
            typer.Option("--port", "-p", help="Web server port on 127.0.0.1 (0: a free one)."),
        ] = 8000,
        speed: Annotated[
            float,
            typer.Option(
                "--speed",
                "-s",
                help="Model seconds per wall second (60: a day in 24 min, a bidding window "
                "in 2.5 min, a delivery in 1 min; 1: real time).",
            ),
        ] = DEFAULT_SPEED,
        houses: Annotated[
            int,
            typer.Option(
                "--houses", "-n", help="Houses (thesis lab mix: 2 PV+battery, 1 PV, 2 consumers)."
            ),
        ] = DEFAULT_HOUSES,
        duration: Annotated[
            float | None,
            typer.Option(
                "--duration", "-d", help="Stop after this many model hours (default: Ctrl-C)."
            ),
        ] = None,
        start_hour: Annotated[
            float,
            typer.Option(
                "--start-hour",
                help="Model time of day to start at, UTC hours (14 = 10:00 in Valparaíso, "
                "half an hour before the first bidding window).",
            ),
        ] = 14.0,
        chain: Annotated[
            str,
            typer.Option(
                "--chain", help="'embedded' (in-process) or a dev node's JSON-RPC URL (anvil)."
            ),
        ] = "embedded",
        data_dir: Annotated[
            Path | None,
            typer.Option("--data-dir", help="Keep the database here (default: a temp dir)."),
        ] = None,
        agents: Annotated[
            bool,
            typer.Option(
                "--agents/--no-agents",
                help="Let every house's agent trade automatically (off: people trade by hand).",
            ),
        ] = True,
        design: Annotated[
            str,
            typer.Option(
                "--design",
                help="Market design: decentralized (offers and requests), centralized "
                "(signed orders cleared at gate closure) or hybrid (matched on arrival).",
            ),
        ] = "decentralized",
        strategy: Annotated[
            str,
            typer.Option(
                "--strategy",
                help="Home agents: rule (rule-based, the default) or mpc (forecasts from each "
                "house's stored readings, battery scheduled over a rolling horizon with HiGHS).",
            ),
        ] = "rule",
    ) -> None:
        """Run a whole community on this machine: broker, houses, agents, store, web UI."""
        from gridpeer.runtime.run import demo_main

        raise typer.Exit(
            demo_main(
                port=port,
                speed=speed,
                houses=houses,
                duration_h=duration,
                start_hour=start_hour,
                data_dir=data_dir,
                chain=chain,
                agents=agents,
                design=design,
                strategy=strategy,
            )
        )

    @app.command(cls=FlagHelpCommand)
    def serve(
        config: Annotated[
            Path,
            typer.Option("--config", "-c", help="Community TOML (see community.example.toml)."),
        ],
        hosts: Annotated[
            int | None,
            typer.Option(
                "--hosts",
                min=0,
                help="Ingest the houses' readings in N child 'gridpeer agents' processes "
                "(static shards, restarted if one dies) instead of in serve's own "
                "[default: in serve].",
            ),
        ] = None,
        no_agents: Annotated[
            bool,
            typer.Option(
                "--no-agents",
                help="Ingest nothing here: separate 'gridpeer agents' processes do it.",
            ),
        ] = False,
        share: Annotated[
            str | None,
            typer.Option(
                "--share",
                metavar="GROUP",
                help="With --hosts: the children share every house's readings as members "
                "of this MQTT shared subscription ($share/GROUP/...) instead of static shards.",
            ),
        ] = None,
        speed: Annotated[
            float,
            typer.Option(
                "--speed",
                min=0.001,
                help="TESTS AND BENCHMARKS ONLY: model seconds per wall second (the dev "
                "chain's time is pushed along; refused on other chains).",
            ),
        ] = 1.0,
        clock_start: Annotated[
            str | None,
            typer.Option(
                "--clock-start",
                help="TESTS ONLY: model time (ISO 8601, UTC) at --clock-wall0 (default: now).",
            ),
        ] = None,
        clock_wall0: Annotated[
            float | None,
            typer.Option(
                "--clock-wall0",
                help="TESTS ONLY: POSIX wall time at which the model clock is --clock-start "
                "(give the same to the agents so that every process agrees; default: now).",
            ),
        ] = None,
    ) -> None:
        """Run the community against real parts: Mosquitto, PostgreSQL, an Ethereum node."""
        from gridpeer.runtime.run import model_clock, serve_main

        clock = model_clock(speed, clock_start, clock_wall0)
        hosts = 0 if no_agents else hosts
        raise typer.Exit(serve_main(config, hosts=hosts, share=share, clock=clock))
