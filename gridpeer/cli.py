"""The ``gridpeer`` command line.

Each layer owns its commands in ``gridpeer/<layer>/commands.py`` and exposes
``register(app)``; this module only assembles them, so ``gridpeer --help`` stays
fast (layers import their heavy dependencies inside the command bodies).
"""

from __future__ import annotations

import importlib
import logging

import typer

from gridpeer import __version__

app = typer.Typer(
    name="gridpeer",
    help="Solar peer-to-peer energy trading for community microgrids.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)

# Layers that contribute commands, in the order they appear in --help.
_COMMAND_MODULES = (
    "gridpeer.runtime.commands",  # demo, serve
    "gridpeer.sim.commands",  # simulate, compare
    "gridpeer.netsim.commands",  # netsim
    "gridpeer.oracle.commands",  # oracle
    "gridpeer.hems.commands",  # delivery-agent
    "gridpeer.telemetry.commands",  # broker-config
    "gridpeer.chain.commands",  # contracts
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


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # layer has no commands yet
                continue
            raise
        module.register(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
