"""``gridpeer oracle``: the oracle process from the CLI.

It forwards its arguments to the module entry point (``python -m gridpeer.oracle``); run
it with ``--help`` for the options.
"""

from __future__ import annotations

import typer

_PASS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def register(app: typer.Typer) -> None:
    """Add ``oracle`` to the ``gridpeer`` app."""

    @app.command("oracle", context_settings=_PASS, add_help_option=False)
    def oracle(ctx: typer.Context) -> None:
        """Run the oracle: chain trades → delivery commands → on-chain confirmation."""
        from gridpeer.oracle.__main__ import main

        main(list(ctx.args))
