"""Settlement of simulated trades on the contract (``--settlement revm|chain``).

``none`` keeps the engine's own accounting. ``revm`` and ``chain`` replay every
delivered trade of every slot through the chain layer's contract client and, at the
end, check that each house's on-chain balance change equals the engine's P2P
accounting in wei.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt
from rich.console import Console

from gridpeer.sim.engine import RunConfig, SimResult
from gridpeer.sim.market_adapter import Trades

I64 = npt.NDArray[np.int64]


class Settler(Protocol):
    """Receives each slot's delivered trades and checks the totals at the end."""

    def on_slot(self, slot: int, contracted: Trades, delivered_wh: I64) -> None:
        """Settle one slot: global slot index, contracted trades, delivered Wh per trade."""
        ...

    def finish(self, result: SimResult, console: Console | None = None) -> None:
        """Compare chain balances with the engine's accounting; raise on mismatch."""
        ...

    def summary_csv(self) -> str:
        """``key,value`` lines about the settlement (trades, transactions, gas)."""
        ...


class SettlementUnavailable(RuntimeError):
    """The requested settlement backend cannot run here."""


def make_settler(kind: str, config: RunConfig) -> Settler | None:
    """The settler for ``--settlement kind`` (None for ``none``).

    Raises:
        SettlementUnavailable: the chain layer's client for that backend is missing.
        ValueError: unknown kind.
    """
    if kind == "none":
        return None
    if kind not in ("revm", "chain"):
        raise ValueError(f"unknown settlement {kind!r}; choose none, revm or chain")
    try:
        from gridpeer.sim.settle_chain import ChainSettler
    except ImportError as exc:
        raise SettlementUnavailable(
            f"--settlement {kind} needs the chain layer's contract client ({exc})"
        ) from exc
    return ChainSettler(kind, config)
