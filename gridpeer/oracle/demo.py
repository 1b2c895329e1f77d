"""``gridpeer demo`` plugin: the oracle and every house's delivery agent (see
:data:`gridpeer.web.demo.DEMO_PLUGINS`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridpeer.oracle.demo_service import delivery

if TYPE_CHECKING:
    from gridpeer.web.demo import Composition


def add_services(comp: Composition) -> None:
    """Run the oracle and the delivery agents after the chain service."""
    comp.add("oracle", delivery, after="chain")
