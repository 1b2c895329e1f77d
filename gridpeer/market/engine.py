"""Price-time priority matching engine shared by the CDA and the pick-and-take book.

Resting orders sit in two heaps: bids by (price desc, priority, arrival), asks by
(price asc, priority, arrival). An incoming order trades against the best resting
orders of the other side while prices cross, **at the resting order's price**, and
its remainder rests. A house never trades with itself: an incoming order skips the
house's own resting orders (they keep their place). Cancelled, filled and expired
orders are dropped lazily when they reach the top of a heap. Pure Python, exact ints.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

Fill = tuple[int, int, int, int]
"""(buy order index, sell order index, Wh, price wei/kWh)."""


@dataclass
class Engine:
    """Matching engine over orders identified by their arrival index.

    Attributes:
        is_live: optional predicate ``is_live(index) -> bool``; resting orders for which it
            is False (e.g. expired) are dropped instead of traded.
    """

    is_live: Callable[[int], bool] | None = None
    house: list[Hashable] = field(default_factory=list)
    is_bid: list[bool] = field(default_factory=list)
    price: list[int] = field(default_factory=list)
    remaining: list[int] = field(default_factory=list)
    _bids: list[tuple[int, int, int]] = field(default_factory=list)
    _asks: list[tuple[int, int, int]] = field(default_factory=list)
    _prio: list[int] = field(default_factory=list)

    def add(self, house: Hashable, is_bid: bool, energy_wh: int, price: int, priority: int) -> int:
        """Register an order (not yet in the book); returns its index."""
        self.house.append(house)
        self.is_bid.append(is_bid)
        self.price.append(price)
        self.remaining.append(energy_wh)
        self._prio.append(priority)
        return len(self.house) - 1

    def rest(self, i: int) -> None:
        """Put order ``i`` in the book without matching it."""
        if self.is_bid[i]:
            heapq.heappush(self._bids, (-self.price[i], self._prio[i], i))
        else:
            heapq.heappush(self._asks, (self.price[i], self._prio[i], i))

    def _usable(self, j: int) -> bool:
        return self.remaining[j] > 0 and (self.is_live is None or self.is_live(j))

    def submit(self, i: int, rest: bool = True) -> list[Fill]:
        """Match order ``i`` against the book (at resting prices); rest the remainder."""
        bid = self.is_bid[i]
        opp = self._asks if bid else self._bids
        fills: list[Fill] = []
        aside: list[tuple[int, int, int]] = []
        p_i = self.price[i]
        while self.remaining[i] > 0 and opp:
            j = opp[0][2]
            if not self._usable(j):
                heapq.heappop(opp)
                continue
            p_j = self.price[j]
            if (bid and p_j > p_i) or (not bid and p_j < p_i):
                break
            if self.house[j] == self.house[i]:
                aside.append(heapq.heappop(opp))
                continue
            q = min(self.remaining[i], self.remaining[j])
            self.remaining[i] -= q
            self.remaining[j] -= q
            fills.append((i, j, q, p_j) if bid else (j, i, q, p_j))
            if self.remaining[j] == 0:
                heapq.heappop(opp)
        for entry in aside:
            heapq.heappush(opp, entry)
        if rest and self.remaining[i] > 0:
            self.rest(i)
        return fills

    def cancel(self, i: int) -> int:
        """Remove order ``i``; returns the Wh that were still open."""
        left = self.remaining[i]
        self.remaining[i] = 0
        return left

    def resting(self, bids: bool) -> list[int]:
        """Open order indices of one side, best first."""
        heap = self._bids if bids else self._asks
        return [e[2] for e in sorted(heap) if self._usable(e[2])]
