"""The feeder's part in a simulated slot: grid-aware curtailment, the AC check after
clearing, market-caused violations and network fees.

In this simulator a trade is a contract, not a power source: every house's physical
injection is its residual (PV − load − battery), whatever the market does, so the
power flow of a slot — its voltages, loadings, losses and violations — is the same
under every design. What the market changes is which energy is *attributed* to P2P
trades and which to the grid. A violation is **market-caused** when the power flow
of all injections has it but the power flow of the non-market injections (each
house's injection minus its delivered P2P sales plus its P2P purchases: its grid
exchange alone) does not. The unconstrained market may cause such violations; the
grid-aware market may not:

1. before clearing, the slot's AC power flow gives the operating point; when it has a
   violation, the linearised feeder (:meth:`FeederFlow.linear`) curtails the
   contracted matches by :mod:`gridpeer.market.grid_aware`'s rule;
2. after delivery, an AC power flow of the non-market injections checks the rule; if
   the linearisation was not good enough and a market-caused violation remains, the
   slot's P2P deliveries are cancelled (all its energy then goes to and from the
   grid, so no violation can be market-caused) and the slot is counted as a fallback.

Network fees (``feeder.network_fee``, currency per kWh per ohm of path resistance)
are charged on delivered Wh by :mod:`gridpeer.market.network_fees`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gridpeer.market.grid_aware import curtail
from gridpeer.market.network_fees import fee_matrix_from_distance, settle_with_fees
from gridpeer.sim.feeder import FeederFlow, SlotFlow
from gridpeer.sim.market_adapter import Trades

I64 = npt.NDArray[np.int64]


class GridMarket:
    """One run's feeder-side market rules (see module doc)."""

    def __init__(self, feeder: FeederFlow, grid_aware: bool, fee_wei_per_kwh_per_ohm: float):
        self.feeder = feeder
        self.grid_aware = grid_aware
        self.fee: I64 | None = None
        if fee_wei_per_kwh_per_ohm > 0:
            dist = feeder.path_resistance()
            self.fee = fee_matrix_from_distance(dist, fee_wei_per_kwh_per_ohm)
        if grid_aware:
            feeder.sensitivities()
        self.flow: SlotFlow | None = None
        self.violated = np.zeros(0, dtype=np.bool_)
        self.market_caused_slots = 0
        self.fallback_slots = 0
        self.curtailed_wh = 0
        self.operator_wei = 0

    def before_clearing(self, residual_wh: I64) -> None:
        """Solve the slot's operating point (all injections, Wh per house)."""
        self.flow = self.feeder.solve(residual_wh)
        self.violated = self.flow.violations(self.feeder.limits)

    def curtail(self, contracted: Trades) -> Trades:
        """Grid-aware: the contracted matches curtailed by the linear rule."""
        if not self.grid_aware or not self.violated.any() or len(contracted) == 0:
            return contracted
        assert self.flow is not None
        lin = self.feeder.linear(self.flow)
        wh = curtail(lin, contracted.buyer, contracted.seller, contracted.wh)
        self.curtailed_wh += int(contracted.wh.sum() - wh.sum())
        return contracted.select(wh > 0, wh)

    def market_caused(self, residual_wh: I64, delivered: Trades) -> bool:
        """True when a violation of the slot is not in the non-market power flow."""
        if not self.violated.any() or len(delivered) == 0:
            return False
        n = residual_wh.size
        m = np.bincount(delivered.seller, delivered.wh, n) - np.bincount(
            delivered.buyer, delivered.wh, n
        )
        nm = self.feeder.solve(residual_wh - m.astype(np.int64))
        if not nm.converged:
            return True
        return bool((self.violated & ~nm.violations(self.feeder.limits)).any())

    def check(self, residual_wh: I64, delivered: Trades) -> bool:
        """After delivery: count a market-caused violation, or (grid-aware) cancel the
        slot's deliveries. Returns True when the deliveries must be cancelled."""
        if not self.market_caused(residual_wh, delivered):
            return False
        if self.grid_aware:
            self.fallback_slots += 1
            return True
        self.market_caused_slots += 1
        return False

    def fees(self, delivered: Trades, houses: int) -> I64:
        """Network fee per house (as buyer) for the delivered trades, wei."""
        if self.fee is None or len(delivered) == 0:
            return np.zeros(houses, dtype=np.int64)
        s = settle_with_fees(
            delivered.buyer, delivered.seller, delivered.wh, delivered.price, self.fee, houses
        )
        self.operator_wei += s.operator_wei
        return s.fees_wei

    def record(self, g: int, injection_wh: I64) -> None:
        """Log slot ``g``'s operating point in the feeder's log."""
        self.feeder.step(g, injection_wh, self.flow)

    def summary(self, wei_per_unit: int) -> dict[str, object]:
        """Market-side feeder KPIs: market-caused violation slots, grid-aware fallbacks,
        Wh curtailed, network fees to the operator (currency)."""
        return {
            "grid_aware": self.grid_aware,
            "market_caused_violation_slots": self.market_caused_slots,
            "grid_aware_fallback_slots": self.fallback_slots,
            "curtailed_wh": self.curtailed_wh,
            "network_fees": self.operator_wei / wei_per_unit,
        }
