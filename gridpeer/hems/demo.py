"""``gridpeer demo`` plugin: every house's trading agent trades for its owner (see
:data:`gridpeer.web.demo.DEMO_PLUGINS`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridpeer.hems.trading_service import trading

if TYPE_CHECKING:
    from gridpeer.web.demo import Composition


def add_services(comp: Composition) -> None:
    """Run the trading agents after the chain service."""
    comp.add("trading", trading, after="chain")
