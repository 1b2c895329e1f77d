"""One slot through the whole market structure: preferences, feeder markets, community.

Stage 0 — the preferred stage (:mod:`gridpeer.market.preferences`, when any bid has a
preference); stage 1 — one market per feeder (:mod:`gridpeer.market.hierarchy`, when
the structure is hierarchical); stage 2 — the community market on what is left (the
flat market when not hierarchical). What is left after that goes to / comes from the
grid. Fees (wei/kWh, paid by the buyer to the grid operator, ``wh * fee // 1000`` per
match): ``feeder_fee`` on feeder-market trades and on preferred trades within one
feeder, ``community_fee`` on community trades and on preferred trades across feeders.
With a per-zone ``fee_matrix`` (wei/kWh, ``[seller zone, buyer zone]``) every match
pays the fee of its zone pair instead, whatever the stage (the path the energy takes,
not the market it was matched in). Per match the buyer pays payment + fee, the seller
receives the payment, the operator the fee (paid == received + fees).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridpeer.market.clearing import GridPrices, Mechanism
from gridpeer.market.hierarchy import LeveledMatches, clear_mapped, concat
from gridpeer.market.money import payments_wei_array
from gridpeer.market.orders import OrderArrays
from gridpeer.market.preferences import Preference, Preferences, clear_preferred

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Structure:
    """How a slot's book is cleared.

    Attributes:
        zone: feeder (zone) per house index.
        hierarchical: True for feeder markets below the community market.
        feeder_fee, community_fee: wei/kWh per level (see module doc).
        fee_matrix: wei/kWh per zone pair, ``[seller zone, buyer zone]`` (zones × zones,
            >= 0); when set, it replaces the level fees.
    """

    zone: IntArray
    hierarchical: bool = True
    feeder_fee: int = 0
    community_fee: int = 0
    fee_matrix: IntArray | None = None

    def __post_init__(self) -> None:
        f = self.fee_matrix
        if f is None:
            return
        zones = int(self.zone.max()) + 1 if self.zone.size else 0
        if f.ndim != 2 or f.shape[0] != f.shape[1] or f.shape[0] < zones:
            raise ValueError(f"fee_matrix must be square, at least {zones} x {zones}")
        if (f < 0).any():
            raise ValueError("fee_matrix entries must be >= 0")


def clear_structured(
    mechanism: Mechanism,
    book: OrderArrays,
    grid: GridPrices,
    structure: Structure,
    prefs: Preferences | None = None,
) -> LeveledMatches:
    """Clear ``book`` through the structure (module doc); levels 0, 1, 2."""
    left = book.energy_wh.copy()
    parts: list[LeveledMatches] = []
    n = len(book)
    if prefs is not None and (prefs.kind != Preference.NONE).any():
        pref = clear_preferred(book, prefs, level=0)
        m = pref.matches
        rate = level_fee_rate(structure, book.house[m.buy], book.house[m.sell], pref.level)
        pref = LeveledMatches(m, pref.level, payments_wei_array(m.energy_wh, rate))
        left -= pref.traded_wh(n)
        parts.append(pref)
    if structure.hierarchical:
        order_zone = structure.zone[book.house]
        for z in np.unique(order_zone).tolist():
            idx = np.flatnonzero(order_zone == z).astype(np.int64)
            part = clear_mapped(mechanism, book, idx, left, grid, 1, structure.feeder_fee)
            left -= part.traded_wh(n)
            parts.append(part)
    everyone = np.arange(n, dtype=np.int64)
    parts.append(clear_mapped(mechanism, book, everyone, left, grid, 2, structure.community_fee))
    out = concat(parts)
    if structure.fee_matrix is None:
        return out
    m = out.matches
    rate = level_fee_rate(structure, book.house[m.buy], book.house[m.sell], out.level)
    return LeveledMatches(m, out.level, payments_wei_array(m.energy_wh, rate))


def level_fee_rate(
    structure: Structure, buyer: IntArray, seller: IntArray, level: IntArray
) -> IntArray:
    """Fee per match, wei/kWh, from its level and houses (module doc)."""
    if structure.fee_matrix is not None:
        z = structure.zone
        return structure.fee_matrix[z[seller], z[buyer]].astype(np.int64)
    same = structure.zone[buyer] == structure.zone[seller]
    local = (level == 1) | ((level == 0) & same)
    return np.where(local, structure.feeder_fee, structure.community_fee).astype(np.int64)
