"""``gridpeer coordinator``: the coordinator of a centralized or hybrid market, from the
community's TOML (see :mod:`gridpeer.coordinator.process`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridpeer.core.help import FlagHelpCommand


def coordinator(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="Community TOML (the one `gridpeer serve` reads)."),
    ],
) -> None:
    """Run the market coordinator until SIGTERM / SIGINT: signed orders (HTTP via the web
    app's store, MQTT) → clearing at gate closure (centralized) or continuous matching
    (hybrid) → settleBatch on chain. The key comes from [chain] coordinator_key or
    GRIDPEER_CHAIN__COORDINATOR_KEY."""
    from gridpeer.coordinator.process import main

    raise typer.Exit(main(config))


def register(app: typer.Typer) -> None:
    """Add ``coordinator`` to the ``gridpeer`` app."""
    app.command("coordinator", cls=FlagHelpCommand)(coordinator)
