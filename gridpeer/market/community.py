"""Community pricing schemes: mid-market rate, bill sharing, supply-demand ratio.

These are not auctions: the community agrees on a formula that sets one internal price
from the grid prices (and, for SDR, from the slot's supply and demand); members are
price-takers and **limit prices are ignored** (orders only state Wh). Use the auctions,
the CDA or the order book when limit prices must bind.

In every scheme the internally traded volume is ``min(G, D)`` with ``G`` the asked Wh
and ``D`` the bid Wh of the slot. The short side trades all its energy; the long side is
served **pro rata** to its orders' Wh, by the largest-remainder method on whole Wh
(leftover Wh go to the largest remainders, ties to the earlier order). The rest goes to
/ comes from the grid at the grid prices. Buyers and sellers are paired by laying both
sides end to end in time priority. Prices (wei/kWh, rounded down):

* **mid-market rate** (Long et al. 2017): ``(import + feed_in) // 2``;
* **bill sharing** (Long et al. 2017): internal energy is pooled and free (price 0);
  the long side shares the grid bill (import cost or export revenue) pro rata,
  which is exactly the grid settlement of the unmatched Wh;
* **supply-demand ratio** (Liu et al. 2017): with ``SDR = G / D``, if ``SDR < 1`` the
  internal price is ``feed_in * import / ((import - feed_in) * SDR + feed_in)``,
  otherwise ``feed_in``; it falls from ``import`` (scarce supply) to ``feed_in``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridpeer.market.clearing import Clearing, GridPrices, MatchArrays, no_trade, pair_stairs
from gridpeer.market.orders import OrderArrays

IntArray = npt.NDArray[np.int64]
_INT64_MAX = 2**63 - 1


def pro_rata(weights_wh: IntArray, total_wh: int) -> IntArray:
    """Split ``total_wh`` Wh over orders in proportion to ``weights_wh`` (Wh), exactly.

    Largest-remainder method: ``floor(w_i * T / W)`` each, then one more Wh to the orders
    with the largest remainders (ties: lower index first). Requires ``0 <= T <= W``.
    """
    w_sum = int(weights_wh.sum())
    if not 0 <= total_wh <= w_sum:
        raise ValueError(f"cannot allocate {total_wh} Wh over {w_sum} Wh of orders")
    if total_wh == w_sum:
        return weights_wh.copy()
    if w_sum * total_wh <= _INT64_MAX:
        prod = weights_wh * total_wh
        share, rem = prod // w_sum, prod % w_sum
    else:
        big = [int(w) * total_wh for w in weights_wh.tolist()]
        share = np.array([b // w_sum for b in big], dtype=np.int64)
        rem = np.array([b % w_sum for b in big], dtype=np.int64)
    left = total_wh - int(share.sum())
    if left:
        order = np.lexsort((np.arange(rem.size), -rem))
        share[order[:left]] += 1
    return share.astype(np.int64)


def allocate(book: OrderArrays, price: int, name: str) -> Clearing:
    """Trade ``min(G, D)`` at ``price`` wei/kWh, long side pro rata (see module doc)."""
    prio = book.priorities()
    idx = np.lexsort((np.arange(len(book)), prio))
    bids = idx[book.is_bid[idx]]
    asks = idx[~book.is_bid[idx]]
    demand = int(book.energy_wh[bids].sum())
    supply = int(book.energy_wh[asks].sum())
    volume = min(demand, supply)
    if volume == 0:
        return no_trade(name)
    qb = pro_rata(book.energy_wh[bids], volume)
    qs = pro_rata(book.energy_wh[asks], volume)
    bids, qb = bids[qb > 0], qb[qb > 0]
    asks, qs = asks[qs > 0], qs[qs > 0]
    buy, sell, wh = pair_stairs(bids, qb, asks, qs, volume)
    matches = MatchArrays(buy, sell, wh, np.full(buy.size, price, dtype=np.int64))
    return Clearing(name, matches, price, None, volume)


@dataclass(frozen=True)
class MidMarketRate:
    """Mid-market rate: internal price = (import + feed-in) // 2 wei/kWh."""

    name: str = "mmr"

    def clear(self, book: OrderArrays, grid: GridPrices) -> Clearing:
        """Clear one slot at the mid-market rate of ``grid``."""
        price = (grid.import_wei_per_kwh + grid.feed_in_wei_per_kwh) // 2
        return allocate(book, price, self.name)


@dataclass(frozen=True)
class BillSharing:
    """Bill sharing: pooled internal energy at price 0; grid bill shared pro rata."""

    name: str = "bill_sharing"

    def clear(self, book: OrderArrays, grid: GridPrices) -> Clearing:
        """Clear one slot (grid prices only price the unmatched Wh, in settlement)."""
        return allocate(book, 0, self.name)


def sdr_price(supply_wh: int, demand_wh: int, grid: GridPrices) -> int:
    """Supply-demand-ratio internal price, wei/kWh (rounded down; see module doc)."""
    imp, fit = grid.import_wei_per_kwh, grid.feed_in_wei_per_kwh
    if demand_wh <= 0 or supply_wh >= demand_wh:
        return fit
    den = (imp - fit) * supply_wh + fit * demand_wh
    if den == 0:  # feed-in 0 and no supply
        return imp
    return fit * imp * demand_wh // den


@dataclass(frozen=True)
class SupplyDemandRatio:
    """Supply-demand-ratio pricing (Liu et al. 2017)."""

    name: str = "sdr"

    def clear(self, book: OrderArrays, grid: GridPrices) -> Clearing:
        """Clear one slot at the SDR price of its supply and demand."""
        demand = int(book.energy_wh[book.is_bid].sum())
        supply = int(book.energy_wh[~book.is_bid].sum())
        return allocate(book, sdr_price(supply, demand, grid), self.name)
