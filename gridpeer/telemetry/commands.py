"""``gridpeer broker-config``: Mosquitto accounts and ACLs for a served community."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridpeer.core.help import FlagHelpCommand


def register(app: typer.Typer) -> None:
    """Add ``broker-config`` to the CLI."""

    @app.command("broker-config", cls=FlagHelpCommand)
    def broker_config(
        config: Annotated[
            Path, typer.Option("--config", "-c", help="Community TOML (as for `gridpeer serve`).")
        ],
        out: Annotated[
            Path, typer.Option("--out", "-o", help="Directory for mosquitto.conf, passwd, acl.")
        ],
    ) -> None:
        """Write a Mosquitto config for the community: a password per house and for the
        services, and ACLs that let each house use only its own topics."""
        from pydantic import ValidationError

        from gridpeer.core.settings import load_settings
        from gridpeer.telemetry.broker_config import write_broker_config

        try:
            settings = load_settings(config)
            conf = write_broker_config(settings, out)
        except (FileNotFoundError, ValidationError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"wrote {conf}, {out / 'passwd'} (hashed) and {out / 'acl'}")
        typer.echo(f"run: mosquitto -c {conf}")
