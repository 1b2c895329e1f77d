"""The ``gridpeer`` command line.

Each layer owns its commands in ``gridpeer/<layer>/commands.py`` and exposes
``register(app)``; this module only assembles them, so ``gridpeer --help`` stays
fast (the command modules import their heavy dependencies inside the command bodies).
"""

from __future__ import annotations

import logging

import typer

from gridpeer import __version__
from gridpeer.chain import commands as chain_commands
from gridpeer.coordinator import commands as coordinator_commands
from gridpeer.core.extras import MissingExtra
from gridpeer.core.help import FlagHelpGroup
from gridpeer.hems import commands as hems_commands
from gridpeer.netsim import commands as netsim_commands
from gridpeer.oracle import commands as oracle_commands
from gridpeer.runtime import admin_commands, agents_commands, homeassistant_commands
from gridpeer.runtime import commands as runtime_commands
from gridpeer.sim import commands as sim_commands
from gridpeer.telemetry import commands as telemetry_commands

app = typer.Typer(
    name="gridpeer",
    help="Solar peer-to-peer energy trading for community microgrids.",
    no_args_is_help=True,
    cls=FlagHelpGroup,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gridpeer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """gridpeer: measure, trade and settle solar energy in a community microgrid."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for register in (
    runtime_commands.register,  # demo, serve
    sim_commands.register,  # simulate, compare
    netsim_commands.register,  # netsim
    oracle_commands.register,  # oracle
    coordinator_commands.register,  # coordinator
    hems_commands.register,  # delivery-agent
    telemetry_commands.register,  # broker-config
    chain_commands.register,  # contracts
    admin_commands.register,  # admin
    agents_commands.register,  # agents
    homeassistant_commands.register,  # homeassistant
):
    register(app)


def main() -> None:
    """Console-script entry point (an optional part that is not installed: exit 2 with the
    pip command that installs it)."""
    try:
        app()
    except MissingExtra as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
