"""``gridpeer delivery-agent``: one house's delivery agent from the CLI.

It forwards its arguments to the module entry point (``python -m
gridpeer.hems.delivery_agent``); run it with ``--help`` for the options.
"""

from __future__ import annotations

import typer

_PASS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def register(app: typer.Typer) -> None:
    """Add ``delivery-agent`` to the ``gridpeer`` app."""

    @app.command("delivery-agent", context_settings=_PASS, add_help_option=False)
    def delivery_agent(ctx: typer.Context) -> None:
        """Run one house's delivery agent: relays, metering, results."""
        from gridpeer.hems.delivery_agent import main

        main(list(ctx.args))
