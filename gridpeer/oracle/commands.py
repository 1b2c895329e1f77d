"""``gridpeer oracle`` and ``gridpeer delivery-agent``: the delivery processes from the CLI.

Both forward their arguments to the module entry points (``python -m gridpeer.oracle``,
``python -m gridpeer.hems.delivery_agent``); run either with ``--help`` for the options.
"""

from __future__ import annotations

import typer

_PASS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def register(app: typer.Typer) -> None:
    """Add the delivery commands to the ``gridpeer`` app."""

    @app.command("oracle", context_settings=_PASS, add_help_option=False)
    def oracle(ctx: typer.Context) -> None:
        """Run the oracle: chain trades → delivery commands → on-chain confirmation."""
        from gridpeer.oracle.__main__ import main

        main(list(ctx.args))

    @app.command("delivery-agent", context_settings=_PASS, add_help_option=False)
    def delivery_agent(ctx: typer.Context) -> None:
        """Run one house's delivery agent: relays, metering, results."""
        from gridpeer.hems.delivery_agent import main

        main(list(ctx.args))
