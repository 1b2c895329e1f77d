"""Hierarchical markets: houses → feeder markets → community market → grid.

Each house belongs to one feeder (``zone[house]``). **Level 1**: every feeder clears
its own houses' orders with the level's mechanism. **Level 2**: what is left of every
order (its Wh minus what it traded at level 1) is passed up to one community market,
cleared with the level-2 mechanism. What is still left goes to / comes from the grid.
Each level charges the buyer a fee per kWh traded at that level (``fees[level]``,
wei/kWh), paid to the grid operator, ``wh * fee // 1000`` wei per match (rounded down
as every payment, :mod:`gridpeer.market.money`). Per match the buyer pays the payment
plus the fee, the seller receives the payment, the operator the fee: **paid ==
received + fees**, exactly. Orders keep their limit prices and time priorities at
every level; a match's indices point into the original book.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridpeer.market.clearing import GridPrices, MatchArrays, Mechanism
from gridpeer.market.money import payments_wei_array
from gridpeer.market.orders import OrderArrays

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LeveledMatches:
    """Matches of a multi-stage clearing with the stage each was made at.

    Attributes:
        matches: buy/sell order indices into the original book, Wh, price (wei/kWh).
        level: stage of each match (1 = feeder / preference stage, 2 = community).
        fee_wei: fee per match paid by the buyer to the grid operator, wei.
    """

    matches: MatchArrays
    level: IntArray
    fee_wei: IntArray

    def paid_received_fees(self, book: OrderArrays, houses: int) -> tuple[IntArray, IntArray, int]:
        """Per house: wei paid as buyer (payments + fees), wei received as seller; and
        the operator's total fees, wei."""
        m = self.matches
        pay = payments_wei_array(m.energy_wh, m.price)
        paid = np.zeros(houses, dtype=np.int64)
        received = np.zeros(houses, dtype=np.int64)
        np.add.at(paid, book.house[m.buy], pay + self.fee_wei)
        np.add.at(received, book.house[m.sell], pay)
        return paid, received, int(self.fee_wei.sum())

    def traded_wh(self, n_orders: int) -> IntArray:
        """Wh traded per order (as bid or ask)."""
        out = np.zeros(n_orders, dtype=np.int64)
        np.add.at(out, self.matches.buy, self.matches.energy_wh)
        np.add.at(out, self.matches.sell, self.matches.energy_wh)
        return out


def sub_book(book: OrderArrays, idx: IntArray, energy_wh: IntArray | None = None) -> OrderArrays:
    """The orders ``idx`` of ``book`` (optionally with other Wh), priorities kept."""
    return OrderArrays(
        book.house[idx],
        book.is_bid[idx],
        (book.energy_wh if energy_wh is None else energy_wh)[idx],
        book.price[idx],
        book.priorities()[idx],
    )


def concat(parts: list[LeveledMatches]) -> LeveledMatches:
    """All matches of ``parts`` in order."""
    z = np.zeros(0, dtype=np.int64)
    if not parts:
        return LeveledMatches(MatchArrays.empty(), z, z)
    cat = np.concatenate
    return LeveledMatches(
        MatchArrays(
            cat([p.matches.buy for p in parts]),
            cat([p.matches.sell for p in parts]),
            cat([p.matches.energy_wh for p in parts]),
            cat([p.matches.price for p in parts]),
        ),
        cat([p.level for p in parts]),
        cat([p.fee_wei for p in parts]),
    )


def clear_mapped(
    mechanism: Mechanism,
    book: OrderArrays,
    idx: IntArray,
    energy_wh: IntArray,
    grid: GridPrices,
    level: int,
    fee_wei_per_kwh: int,
) -> LeveledMatches:
    """Clear the orders ``idx`` (with Wh ``energy_wh[idx]``) and map the matches back."""
    idx = idx[energy_wh[idx] > 0]
    z = np.zeros(0, dtype=np.int64)
    if idx.size == 0 or book.is_bid[idx].all() or not book.is_bid[idx].any():
        return LeveledMatches(MatchArrays.empty(), z, z)
    m = mechanism.clear(sub_book(book, idx, energy_wh), grid).matches
    mapped = MatchArrays(idx[m.buy], idx[m.sell], m.energy_wh.copy(), m.price.copy())
    fee = payments_wei_array(m.energy_wh, np.full(len(m), fee_wei_per_kwh, dtype=np.int64))
    return LeveledMatches(mapped, np.full(len(m), level, dtype=np.int64), fee)


def clear_hierarchical(
    book: OrderArrays,
    zone: IntArray,
    grid: GridPrices,
    feeder_mechanism: Mechanism,
    community_mechanism: Mechanism,
    fees: tuple[int, int] = (0, 0),
) -> LeveledMatches:
    """Two-level clearing (module doc). ``zone[h]`` is house h's feeder; ``fees`` the
    level-1 and level-2 fee, wei/kWh."""
    parts = []
    left = book.energy_wh.copy()
    order_zone = zone[book.house]
    for z in np.unique(order_zone).tolist():
        idx = np.flatnonzero(order_zone == z).astype(np.int64)
        part = clear_mapped(feeder_mechanism, book, idx, left, grid, 1, fees[0])
        left -= part.traded_wh(len(book))
        parts.append(part)
    everyone = np.arange(len(book), dtype=np.int64)
    parts.append(clear_mapped(community_mechanism, book, everyone, left, grid, 2, fees[1]))
    return concat(parts)
