"""Sealed-bid double auctions for one slot: uniform price (pay-as-clear) and pay-as-bid.

Both sort the bids by price descending and the asks by price ascending, ties broken by
time priority (earlier first) and then by position in the book (earlier first), lay the
two queues end to end Wh by Wh, and trade the largest volume ``Q`` at which the Q-th
Wh of demand still bids at least what the Q-th Wh of supply asks. Orders at the
marginal price are filled in time priority, so a partial fill always falls on the
latest of them. Vectorised with numpy: O(n log n).

**Crossing interval.** With ``B(q)``/``A(q)`` the bid/ask price of the q-th Wh, every
price in ``[max(A(Q), B(Q+1)), min(B(Q), A(Q+1))]`` clears the market (each matched bid
is willing, each unmatched one is not, the same for asks; a missing ``B(Q+1)`` or
``A(Q+1)`` drops out). **Uniform pricing rule:** ``low + (high - low) * k // 1``, with
``k = k_num / k_den`` (default 1/2, the midpoint, rounded down to a whole wei/kWh).

**Pay-as-bid:** same matches, each priced ``ask + (bid - ask) * k`` (rounded down) with
default ``k = 1``: the buyer pays its own bid and the seller receives exactly that, so
no money is left with an operator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridpeer.market.clearing import Clearing, GridPrices, MatchArrays, no_trade, pair_stairs
from gridpeer.market.orders import OrderArrays

IntArray = npt.NDArray[np.int64]
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Crossing:
    """Where supply meets demand.

    Attributes:
        bids: bid order indices, best first (price desc, priority, position).
        asks: ask order indices, best first (price asc, priority, position).
        volume_wh: crossing volume Q, Wh (the maximum tradable at one price).
        interval: ``(low, high)`` wei/kWh of clearing prices, None when Q == 0.
    """

    bids: IntArray
    asks: IntArray
    volume_wh: int
    interval: tuple[int, int] | None


def _queue(idx: IntArray, price: IntArray, prio: IntArray | None, descending: bool) -> IntArray:
    key = -price[idx] if descending else price[idx]
    if prio is None:
        return idx[np.argsort(key, kind="stable")]
    return idx[np.lexsort((prio[idx], key))]


def find_crossing(book: OrderArrays) -> Crossing:
    """Sort both sides and find the crossing volume and price interval (see module doc)."""
    bids = np.flatnonzero(book.is_bid)
    asks = np.flatnonzero(~book.is_bid)
    bids = _queue(bids, book.price, book.priority, descending=True)
    asks = _queue(asks, book.price, book.priority, descending=False)
    if bids.size == 0 or asks.size == 0:
        return Crossing(bids, asks, 0, None)
    bp = book.price[bids]
    ap = book.price[asks]
    cb = np.cumsum(book.energy_wh[bids])
    ca = np.cumsum(book.energy_wh[asks])
    # Supply offered at or below each bid's price; Q = max_i min(cb_i, S(b_i)).
    k = np.searchsorted(ap, bp, side="right")
    supply = np.where(k > 0, ca[np.maximum(k - 1, 0)], 0)
    volume = max(0, int(np.minimum(cb, supply).max()))
    if volume == 0:
        return Crossing(bids, asks, 0, None)
    ib = int(np.searchsorted(cb, volume, side="left"))
    ia = int(np.searchsorted(ca, volume, side="left"))
    b_q, a_q = int(bp[ib]), int(ap[ia])
    ib1 = int(np.searchsorted(cb, volume + 1, side="left"))
    ia1 = int(np.searchsorted(ca, volume + 1, side="left"))
    low = max(a_q, int(bp[ib1])) if ib1 < bp.size else a_q
    high = min(b_q, int(ap[ia1])) if ia1 < ap.size else b_q
    return Crossing(bids, asks, volume, (low, high))


def _check_k(k_num: int, k_den: int) -> None:
    if k_den <= 0 or not 0 <= k_num <= k_den:
        raise ValueError(f"k = k_num/k_den must be in [0, 1] with k_den > 0, got {k_num}/{k_den}")


def _matches(book: OrderArrays, c: Crossing) -> tuple[IntArray, IntArray, IntArray]:
    return pair_stairs(c.bids, book.energy_wh[c.bids], c.asks, book.energy_wh[c.asks], c.volume_wh)


@dataclass(frozen=True)
class UniformPrice:
    """Uniform-price double auction (pay-as-clear): every match pays one price.

    Attributes:
        k_num, k_den: position of the price inside the crossing interval,
            ``low + (high - low) * k_num // k_den`` (default 1/2 = midpoint).
    """

    k_num: int = 1
    k_den: int = 2
    name: str = "uniform"

    def __post_init__(self) -> None:
        _check_k(self.k_num, self.k_den)

    def price_in(self, interval: tuple[int, int]) -> int:
        """The clearing price (wei/kWh) chosen in a crossing interval."""
        low, high = interval
        return low + (high - low) * self.k_num // self.k_den

    def clear(self, book: OrderArrays, grid: GridPrices | None = None) -> Clearing:
        """Clear one slot (grid prices are not used by auctions)."""
        c = find_crossing(book)
        if c.interval is None:
            return no_trade(self.name)
        price = self.price_in(c.interval)
        buy, sell, wh = _matches(book, c)
        matches = MatchArrays(buy, sell, wh, np.full(buy.size, price, dtype=np.int64))
        return Clearing(self.name, matches, price, c.interval, c.volume_wh)


@dataclass(frozen=True)
class PayAsBid:
    """Pay-as-bid (discriminatory) double auction: each match at its own price.

    Attributes:
        k_num, k_den: match price ``ask + (bid - ask) * k_num // k_den``; default 1/1 is
            pay-as-bid (buyer pays its bid); 0/1 is pay-as-ask; 1/2 splits the surplus.
    """

    k_num: int = 1
    k_den: int = 1
    name: str = "pay_as_bid"

    def __post_init__(self) -> None:
        _check_k(self.k_num, self.k_den)

    def clear(self, book: OrderArrays, grid: GridPrices | None = None) -> Clearing:
        """Clear one slot (grid prices are not used by auctions)."""
        c = find_crossing(book)
        if c.interval is None:
            return no_trade(self.name)
        buy, sell, wh = _matches(book, c)
        bp = book.price[buy]
        ap = book.price[sell]
        if int(book.price.max()) * self.k_num < _INT64_MAX:
            price = ap + (bp - ap) * self.k_num // self.k_den
        else:  # exact Python ints; the result lies between ask and bid, so fits int64
            price = np.array(
                [
                    a + (b - a) * self.k_num // self.k_den
                    for a, b in zip(ap.tolist(), bp.tolist(), strict=True)
                ],
                dtype=np.int64,
            )
        matches = MatchArrays(buy, sell, wh, price.astype(np.int64))
        return Clearing(self.name, matches, None, c.interval, c.volume_wh)
