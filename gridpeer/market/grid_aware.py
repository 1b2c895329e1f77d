"""Grid-aware clearing: the market never adds to a feeder violation.

The feeder is described, for one slot, by a **linear sensitivity model** around the
slot's physical operating point (:class:`LinearFeeder`): ``k`` monitored quantities
(bus voltages in per unit, signed active power flows of lines and transformers in %
of their rating), their values at the operating point, their limits, and the change
of each quantity per Wh of net injection of each house (``sens[k, h]``; the simulator
gets it from AC power flows, :mod:`gridpeer.sim.feeder`).

A P2P match of ``e`` Wh from seller ``s`` to buyer ``b`` moves the injections by
``+e`` at ``s`` and ``−e`` at ``b``; the **market's effect** on quantity ``k`` is
``Σ_matches e · (sens[k, s] − sens[k, b])``. The flows of the *non-market* injections
(everything but the matches: the grid imports and exports) are the operating point
minus the market's effect.

**Rule (documented sensitivity method).** On every quantity that is outside its limits
at the operating point, the market's effect must not point outward (not raise a
voltage or flow above its upper limit, not lower one below its lower limit). Then each
violation that remains is already there in the non-market flows alone. Quantities
within their limits constrain nothing. The matches of the unconstrained mechanism are
curtailed greedily, most violated quantity first: the matches that push it outward
most per Wh lose Wh first (ties: later match first), each just enough, in whole Wh,
until the quantity's market effect is no longer outward; repeated until no violated
quantity has an outward market effect (each step removes Wh, so it ends). Prices are
not changed; curtailed Wh go to / come from the grid at the grid prices. With no
violation (e.g. infinite limits) the result is exactly the unconstrained clearing.
The linearisation is checked afterwards by an AC power flow of the non-market
injections (the simulator does this and curtails further if needed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridpeer.market.clearing import Clearing, GridPrices, MatchArrays, Mechanism
from gridpeer.market.orders import OrderArrays

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
TOLERANCE = 1e-9
"""Market effects smaller than this (in the quantity's unit) count as zero."""


@dataclass(frozen=True)
class LinearFeeder:
    """A slot's linearised feeder (see module doc).

    Attributes:
        sens: (k, houses) change of each quantity per Wh net-injected by each house.
        value: (k,) each quantity at the slot's operating point (all injections).
        lo, hi: (k,) limits (``-inf`` / ``inf`` for none).
    """

    sens: FloatArray
    value: FloatArray
    lo: FloatArray
    hi: FloatArray

    def __post_init__(self) -> None:
        k = self.value.shape[0]
        if self.sens.ndim != 2 or self.sens.shape[0] != k:
            raise ValueError(f"sens must be (k, houses) with k = {k}, got {self.sens.shape}")
        if self.lo.shape != (k,) or self.hi.shape != (k,):
            raise ValueError("lo and hi need one limit per quantity")

    @property
    def over(self) -> npt.NDArray[np.bool_]:
        """Quantities above their upper limit."""
        return self.value > self.hi

    @property
    def under(self) -> npt.NDArray[np.bool_]:
        """Quantities below their lower limit."""
        return self.value < self.lo


def market_effect(
    feeder: LinearFeeder, buyer: IntArray, seller: IntArray, wh: IntArray
) -> FloatArray:
    """The matches' effect on every quantity (house indices, Wh)."""
    per_wh = feeder.sens[:, seller] - feeder.sens[:, buyer]
    return np.asarray(per_wh @ wh.astype(np.float64), dtype=np.float64)


def outward(feeder: LinearFeeder, effect: FloatArray) -> npt.NDArray[np.bool_]:
    """Violated quantities on which the market's effect points outward."""
    return (feeder.over & (effect > TOLERANCE)) | (feeder.under & (effect < -TOLERANCE))


def curtail(feeder: LinearFeeder, buyer: IntArray, seller: IntArray, wh: IntArray) -> IntArray:
    """Curtailed Wh per match so that no violated quantity has an outward market effect
    (the rule of the module doc). Never raises a match's Wh."""
    wh = wh.astype(np.int64).copy()
    if wh.size == 0 or not (feeder.over.any() or feeder.under.any()):
        return wh
    per_wh = feeder.sens[:, seller] - feeder.sens[:, buyer]  # (k, matches)
    order = np.arange(wh.size)
    for _ in range(feeder.value.size * wh.size + 1):
        effect = per_wh @ wh.astype(np.float64)
        bad = outward(feeder, effect)
        if not bad.any():
            return wh
        k = int(np.argmax(np.where(bad, np.abs(effect), -1.0)))
        sign = 1.0 if feeder.over[k] else -1.0
        harm = sign * per_wh[k]  # > 0: the match pushes quantity k outward
        need = sign * float(effect[k])
        cand = np.flatnonzero((harm > 0) & (wh > 0))
        cand = cand[np.lexsort((-order[cand], -harm[cand]))]  # most harmful, later first
        for j in cand.tolist():
            if need <= TOLERANCE:
                break
            cut = min(int(wh[j]), math.ceil(need / float(harm[j])))
            wh[j] -= cut
            need -= cut * float(harm[j])
    return wh  # pragma: no cover - the loop ends earlier: every pass removes Wh


def clear_grid_aware(
    mechanism: Mechanism, book: OrderArrays, grid: GridPrices, feeder: LinearFeeder
) -> Clearing:
    """Clear ``book`` with ``mechanism`` and curtail the matches by the rule (module
    doc); ``book.house`` indexes the columns of ``feeder.sens``."""
    c = mechanism.clear(book, grid)
    m = c.matches
    if len(m) == 0:
        return c
    wh = curtail(feeder, book.house[m.buy], book.house[m.sell], m.energy_wh)
    if np.array_equal(wh, m.energy_wh):
        return c
    keep = wh > 0
    kept = MatchArrays(m.buy[keep], m.sell[keep], wh[keep], m.price[keep])
    volume = int(wh.sum())
    return Clearing(
        c.mechanism,
        kept,
        c.clearing_price if volume else None,
        c.price_interval,
        volume,
    )
