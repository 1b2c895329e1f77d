"""The seven market designs, cleared for one slot with numpy over all orders.

Every mechanism takes the slot's open orders — integer Wh quantities and integer
wei/kWh limit prices, one entry per house (0 Wh = no order) — and returns
:class:`Trades`: matched (buyer, seller) pairs with integer Wh and an integer price
in wei/kWh. A pair's money is ``wh * price`` milli-wei (wei·Wh/kWh), exact in int64, so
what buyers pay equals what sellers receive in every slot.

* ``uniform``: uniform-price double auction; bids by price descending, offers
  ascending, matched while bid >= ask; one price, the midpoint of the marginal pair.
* ``pay-as-bid``: same matching, each pair trades at the buyer's bid.
* ``cda``: continuous double auction: same efficient matching, each pair trades at the
  price of the order that was in the book first (random arrival order from the seed).
* ``order-book``: the thesis's decentralized market: buyers, in random order, take the
  cheapest offers at or below their limit and pay the offer's price.
* ``mid-market``: all matchable volume, pro rata, at the mid-market rate
  ``(import + feed-in) / 2``, ignoring order prices.
* ``bill-sharing``: the community's net grid bill is shared pro rata; energy between
  members changes hands at a price of 0 (it only reduces the shared bill).
* ``sdr``: supply-demand-ratio pricing (Liu et al. 2017): internal price falls from
  import toward feed-in as supply/demand rises; feed-in when supply >= demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Trades:
    """Matched pairs of one clearing (arrays of equal length).

    Attributes:
        buyer: house index of the buyer.
        seller: house index of the seller.
        wh: energy, Wh (> 0).
        price: wei per kWh (>= 0).
    """

    buyer: I64
    seller: I64
    wh: I64
    price: I64

    @staticmethod
    def empty() -> Trades:
        """No trades."""
        z = np.zeros(0, dtype=np.int64)
        return Trades(z, z, z, z)

    def __len__(self) -> int:
        return int(self.wh.shape[0])


@dataclass(frozen=True)
class SlotBook:
    """Open orders of one slot, per house (length = houses).

    Attributes:
        buy_wh: requested Wh (0 = no request).
        bid: buyer limit price, wei/kWh.
        sell_wh: offered Wh (0 = no offer).
        ask: seller limit price, wei/kWh.
        import_price: grid import tariff of the slot, wei/kWh.
        feed_in: grid feed-in tariff of the slot, wei/kWh.
        arrival: random arrival rank per house (for cda and order-book).
    """

    buy_wh: I64
    bid: I64
    sell_wh: I64
    ask: I64
    import_price: int
    feed_in: int
    arrival: I64


def pair_up(buy_idx: I64, buy_q: I64, sell_idx: I64, sell_q: I64) -> tuple[I64, I64, I64]:
    """Match two ordered queues of quantities front to front.

    Args:
        buy_idx, buy_q: buyer house indices and Wh, in matching order.
        sell_idx, sell_q: seller house indices and Wh, in matching order.

    Returns:
        ``(buyer, seller, wh)`` per matched segment, up to ``min(sum buy, sum sell)`` Wh.
    """
    cb = np.cumsum(buy_q)
    cs = np.cumsum(sell_q)
    if cb.size == 0 or cs.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    total = min(int(cb[-1]), int(cs[-1]))
    ends = np.union1d(cb[cb <= total], cs[cs <= total])
    ends = ends[ends > 0]
    if ends.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    starts = np.concatenate(([0], ends[:-1]))
    b = np.searchsorted(cb, starts, side="right")
    s = np.searchsorted(cs, starts, side="right")
    return buy_idx[b], sell_idx[s], (ends - starts).astype(np.int64)


def _sides(book: SlotBook) -> tuple[I64, I64]:
    return np.flatnonzero(book.buy_wh > 0), np.flatnonzero(book.sell_wh > 0)


def _crossing(book: SlotBook) -> tuple[I64, I64, I64]:
    """Efficient matching: bids descending, offers ascending, while bid >= ask."""
    bi, si = _sides(book)
    if bi.size == 0 or si.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    # ties broken by arrival, so equal prices are served first come first served
    bi = bi[np.lexsort((book.arrival[bi], -book.bid[bi]))]
    si = si[np.lexsort((book.arrival[si], book.ask[si]))]
    buyer, seller, wh = pair_up(bi, book.buy_wh[bi], si, book.sell_wh[si])
    ok = book.bid[buyer] >= book.ask[seller]
    return buyer[ok], seller[ok], wh[ok]


def uniform(book: SlotBook) -> Trades:
    """Uniform-price double auction (price: midpoint of the marginal matched pair)."""
    buyer, seller, wh = _crossing(book)
    if wh.size == 0:
        return Trades.empty()
    price = (int(book.bid[buyer[-1]]) + int(book.ask[seller[-1]])) // 2
    return Trades(buyer, seller, wh, np.full(wh.size, price, dtype=np.int64))


def pay_as_bid(book: SlotBook) -> Trades:
    """Discriminatory double auction: each pair trades at the buyer's bid."""
    buyer, seller, wh = _crossing(book)
    return Trades(buyer, seller, wh, book.bid[buyer].copy())


def cda(book: SlotBook) -> Trades:
    """Continuous double auction: each pair trades at the earlier order's price."""
    buyer, seller, wh = _crossing(book)
    buyer_first = book.arrival[buyer] < book.arrival[seller]
    price = np.where(buyer_first, book.bid[buyer], book.ask[seller])
    return Trades(buyer, seller, wh, price.astype(np.int64))


def order_book(book: SlotBook, passes: int = 4) -> Trades:
    """Decentralized market: buyers in arrival order take the cheapest acceptable offers.

    Each pass matches buyers (arrival order) against offers (cheapest first) and keeps
    the pairs whose offer is within the buyer's limit; what is left is matched again
    in the next pass, so a buyer whose limit is below the cheapest offer leaves room
    for the next one. Trades at the offer's price.
    """
    buy = book.buy_wh.copy()
    sell = book.sell_wh.copy()
    parts: list[tuple[I64, I64, I64]] = []
    for _ in range(passes):
        si = np.flatnonzero(sell > 0)
        if si.size == 0:
            break
        cheapest = int(book.ask[si].min())
        bi = np.flatnonzero((buy > 0) & (book.bid >= cheapest))
        if bi.size == 0:
            break
        bi = bi[np.argsort(book.arrival[bi], kind="stable")]
        si = si[np.lexsort((book.arrival[si], book.ask[si]))]
        buyer, seller, wh = pair_up(bi, buy[bi], si, sell[si])
        ok = book.bid[buyer] >= book.ask[seller]
        buyer, seller, wh = buyer[ok], seller[ok], wh[ok]
        if wh.size == 0:
            break
        np.subtract.at(buy, buyer, wh)
        np.subtract.at(sell, seller, wh)
        parts.append((buyer, seller, wh))
    if not parts:
        return Trades.empty()
    buyer = np.concatenate([p[0] for p in parts])
    seller = np.concatenate([p[1] for p in parts])
    wh = np.concatenate([p[2] for p in parts])
    return Trades(buyer, seller, wh, book.ask[seller].copy())


def pro_rata(want: I64, total: int) -> I64:
    """Split ``total`` Wh over houses in proportion to ``want`` (integer, largest remainder).

    Requires ``0 <= total <= sum(want)``; each share is ``<= want``.
    """
    s = int(want.sum())
    if s == 0 or total == 0:
        return np.zeros_like(want)
    exact = want.astype(np.float64) * (total / s)
    share = np.minimum(np.floor(exact).astype(np.int64), want)
    rest = total - int(share.sum())
    if rest > 0:
        room = want - share
        order = np.lexsort((np.arange(want.size), -(exact - share)))
        order = order[room[order] > 0][:rest]
        share[order] += 1
    return share


def _pooled(book: SlotBook, price: int) -> Trades:
    """All matchable volume, pro rata on the long side, at one price."""
    bi, si = _sides(book)
    demand = int(book.buy_wh.sum())
    supply = int(book.sell_wh.sum())
    volume = min(demand, supply)
    if volume == 0:
        return Trades.empty()
    bq = pro_rata(book.buy_wh[bi], volume)
    sq = pro_rata(book.sell_wh[si], volume)
    buyer, seller, wh = pair_up(bi[bq > 0], bq[bq > 0], si[sq > 0], sq[sq > 0])
    return Trades(buyer, seller, wh, np.full(wh.size, price, dtype=np.int64))


def mid_market(book: SlotBook) -> Trades:
    """Mid-market rate: pooled volume at ``(import + feed-in) // 2`` wei/kWh."""
    return _pooled(book, (book.import_price + book.feed_in) // 2)


def bill_sharing(book: SlotBook) -> Trades:
    """Bill sharing: pooled volume at price 0 (members share the net grid bill)."""
    return _pooled(book, 0)


def sdr_price(supply_wh: int, demand_wh: int, import_price: int, feed_in: int) -> int:
    """Supply-demand-ratio internal price, wei/kWh (Liu et al. 2017).

    ``SDR = supply / demand``; for ``SDR < 1`` the price is
    ``feed_in * import / ((import - feed_in) * SDR + feed_in)``, else the feed-in price.
    """
    if demand_wh <= 0 or supply_wh >= demand_wh:
        return feed_in
    ratio = supply_wh / demand_wh
    denom = (import_price - feed_in) * ratio + feed_in
    if denom <= 0:
        return feed_in
    return int(feed_in * import_price / denom)


def sdr(book: SlotBook) -> Trades:
    """SDR pricing: pooled volume at :func:`sdr_price`."""
    supply = int(book.sell_wh.sum())
    demand = int(book.buy_wh.sum())
    return _pooled(book, sdr_price(supply, demand, book.import_price, book.feed_in))


MECHANISM_FUNCS = {
    "uniform": uniform,
    "pay-as-bid": pay_as_bid,
    "cda": cda,
    "order-book": order_book,
    "mid-market": mid_market,
    "bill-sharing": bill_sharing,
    "sdr": sdr,
}
PRICE_BLIND = frozenset({"mid-market", "bill-sharing", "sdr"})
"""Mechanisms that ignore order prices (cleared once per slot)."""
