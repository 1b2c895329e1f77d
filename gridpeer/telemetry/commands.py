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
        client_certs: Annotated[
            bool,
            typer.Option(
                "--client-certs",
                help="With [mqtt] tls: also issue a certificate per house and for the "
                "services (clients/<user>.crt, .key) and make the broker require one.",
            ),
        ] = False,
    ) -> None:
        """Write a Mosquitto config for the community: a password per house and for the
        services, ACLs that let each house use only its own topics, a payload size limit
        and, with [mqtt] tls = true, a CA and the broker's TLS certificate."""
        from pydantic import ValidationError

        from gridpeer.core.settings import load_settings
        from gridpeer.telemetry.broker_config import write_broker_config

        try:
            settings = load_settings(config)
            conf = write_broker_config(settings, out, client_certs=client_certs)
        except (FileNotFoundError, ValidationError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        out = out.resolve()
        typer.echo(f"wrote {conf}, {out / 'passwd'} (hashed) and {out / 'acl'}")
        if settings.mqtt.tls:
            typer.echo(
                f"TLS: CA {out / 'ca.crt'} (give it to every client: [mqtt] ca_file, "
                f"--mqtt-ca, the nodes' CA_CERT), broker certificate {out / 'server.crt'}"
            )
            if client_certs:
                typer.echo(f"client certificates in {out / 'clients'}")
        else:
            typer.echo(
                "warning: [mqtt] tls is off: passwords and relay commands cross the network "
                "in clear (set tls = true for anything but a test)",
                err=True,
            )
        typer.echo(f"run: mosquitto -c {conf}")
