"""``--help`` that reads well: flags (``--help``, ``--agents/--no-agents``) are shown
without typer's ``<bool>`` type label. Every gridpeer command uses these classes."""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup, TyperOption


def _no_bool_label(params: list[Any]) -> list[Any]:
    for p in params:
        if isinstance(p, TyperOption) and p.is_flag and p.metavar is None:
            p.metavar = ""
    return params


class FlagHelpCommand(TyperCommand):
    """A command whose --help shows flags without a ``<bool>``."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_bool_label(super().get_params(ctx))


class FlagHelpGroup(TyperGroup):
    """The command group (``gridpeer``'s own options) with flags shown without ``<bool>``."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_bool_label(super().get_params(ctx))
