"""``gridpeer contracts ...``: build the Solidity artifacts."""

from __future__ import annotations

import typer

from gridpeer.core.help import FlagHelpCommand


def register(app: typer.Typer) -> None:
    """Add the ``contracts`` command group to the CLI."""
    contracts = typer.Typer(
        help="Smart contracts: compile with the pinned npm solc, write artifacts.",
        no_args_is_help=True,
    )

    @contracts.command("build", cls=FlagHelpCommand)
    def build() -> None:
        """Compile gridpeer/chain/contracts/*.sol and write the JSON artifacts (needs Node)."""
        from gridpeer.chain.build import BuildError, build_all

        try:
            for path in build_all():
                typer.echo(f"wrote {path}")
        except BuildError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc

    @contracts.command("check", cls=FlagHelpCommand)
    def check() -> None:
        """Recompile and fail if a committed artifact is stale (needs Node)."""
        import json

        from gridpeer.chain.build import CONTRACTS, artifact_path, compile_contract

        stale = []
        for name in CONTRACTS:
            fresh = compile_contract(name)
            path = artifact_path(name)
            if not path.is_file() or json.loads(path.read_text()) != fresh:
                stale.append(name)
        if stale:
            typer.echo(f"stale artifacts: {', '.join(stale)}; run `gridpeer contracts build`")
            raise typer.Exit(1)
        typer.echo("artifacts up to date")

    app.add_typer(contracts, name="contracts")
