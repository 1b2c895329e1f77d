"""``gridpeer homeassistant publish|remove``: the community's Home Assistant discovery
configs by hand (``serve`` publishes them itself with ``[homeassistant] enabled``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gridpeer.core.help import FlagHelpCommand, FlagHelpGroup

if TYPE_CHECKING:
    from gridpeer.telemetry.adapters.homeassistant import HomeAssistantDiscovery

_CONFIG = typer.Option("--config", "-c", help="Community TOML (as for `gridpeer serve`).")


def register(app: typer.Typer) -> None:
    """Add the ``homeassistant`` group to the CLI."""
    group = typer.Typer(
        cls=FlagHelpGroup,
        no_args_is_help=True,
        help="Home Assistant MQTT discovery of the houses' energy and P2P trading.",
    )

    def _load(config: Path) -> HomeAssistantDiscovery:
        from pydantic import ValidationError

        from gridpeer.core.settings import load_settings
        from gridpeer.runtime.homeassistant import discovery

        try:
            return discovery(load_settings(config))
        except (FileNotFoundError, ValidationError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc

    @group.command("publish", cls=FlagHelpCommand)
    def publish(config: Annotated[Path, _CONFIG]) -> None:
        """Publish (retained) every house's discovery configs once."""
        pub = _load(config)
        try:
            pub.start()
        except ConnectionError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        pub.stop()
        typer.echo(f"published {pub.published} discovery configs for {len(pub.houses)} houses")

    @group.command("remove", cls=FlagHelpCommand)
    def remove(
        config: Annotated[Path, _CONFIG],
        house: Annotated[str, typer.Option(help="The house whose entities to delete.")],
    ) -> None:
        """Delete a house's entities from Home Assistant (empty retained configs)."""
        pub = _load(config)
        if house not in pub.houses:
            typer.echo(f"error: no house {house!r} in {config}", err=True)
            raise typer.Exit(2)
        try:
            pub.link.start()
        except ConnectionError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        pub.remove(house)
        pub.stop()
        typer.echo(f"removed the Home Assistant entities of {house}")

    app.add_typer(group, name="homeassistant")
