"""What every mechanism returns: matches and clearing prices, plus the common interface.

A mechanism clears one slot's book (:class:`~gridpeer.market.orders.OrderArrays`) given
the slot's grid prices and returns a :class:`Clearing`: a list of matches (buy order,
sell order, Wh, price in wei/kWh) as arrays, the uniform clearing price when there is
one, and the traded volume. Everything not matched goes to / comes from the grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gridpeer.market.money import payments_wei, total_payment_wei
from gridpeer.market.orders import OrderArrays

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class GridPrices:
    """Utility prices for one slot, wei per kWh.

    Attributes:
        import_wei_per_kwh: price the utility charges for energy drawn from the grid.
        feed_in_wei_per_kwh: price the utility pays for energy fed into the grid
            (must not exceed the import price).
    """

    import_wei_per_kwh: int
    feed_in_wei_per_kwh: int

    def __post_init__(self) -> None:
        if not 0 <= self.feed_in_wei_per_kwh <= self.import_wei_per_kwh:
            raise ValueError(
                "grid prices need 0 <= feed-in <= import wei/kWh, got "
                f"import={self.import_wei_per_kwh}, feed-in={self.feed_in_wei_per_kwh}"
            )


@dataclass(frozen=True)
class MatchArrays:
    """Matches as equal-length arrays; row k: order ``buy[k]`` buys ``energy_wh[k]`` Wh from
    order ``sell[k]`` at ``price[k]`` wei/kWh (indices into the cleared OrderArrays)."""

    buy: IntArray
    sell: IntArray
    energy_wh: IntArray
    price: IntArray

    def __len__(self) -> int:
        return int(self.buy.shape[0])

    @staticmethod
    def empty() -> MatchArrays:
        """No matches."""
        z = np.zeros(0, dtype=np.int64)
        return MatchArrays(z, z, z, z)

    def payments_wei(self) -> list[int]:
        """Payment per match, wei (``energy_wh * price // 1000``, see money.py)."""
        return payments_wei(self.energy_wh, self.price)

    def total_payment_wei(self) -> int:
        """Total money moved from buyers to sellers, wei."""
        return total_payment_wei(self.energy_wh, self.price)


@dataclass(frozen=True)
class Clearing:
    """Result of clearing one slot.

    Attributes:
        mechanism: name of the mechanism.
        matches: the matches.
        clearing_price: the single price every match pays (wei/kWh), or None when no
            energy traded or when prices differ per match (pay-as-bid, CDA, order book).
        price_interval: for auctions, the crossing interval ``(low, high)`` wei/kWh of
            prices that clear the market; None when nothing crosses.
        volume_wh: total matched energy, Wh.
    """

    mechanism: str
    matches: MatchArrays
    clearing_price: int | None
    price_interval: tuple[int, int] | None
    volume_wh: int

    def bought_wh(self, n_orders: int) -> IntArray:
        """Matched Wh per order index (bids), length ``n_orders``."""
        out = np.zeros(n_orders, dtype=np.int64)
        np.add.at(out, self.matches.buy, self.matches.energy_wh)
        return out

    def sold_wh(self, n_orders: int) -> IntArray:
        """Matched Wh per order index (asks), length ``n_orders``."""
        out = np.zeros(n_orders, dtype=np.int64)
        np.add.at(out, self.matches.sell, self.matches.energy_wh)
        return out


class Mechanism(Protocol):
    """The one interface every market mechanism implements."""

    @property
    def name(self) -> str:
        """Short name used in config and reports (e.g. ``"uniform"``)."""
        ...

    def clear(self, book: OrderArrays, grid: GridPrices) -> Clearing:
        """Clear one slot's book. Pure: same input, same output."""
        ...


def no_trade(mechanism: str) -> Clearing:
    """The empty result."""
    return Clearing(mechanism, MatchArrays.empty(), None, None, 0)


def pair_stairs(
    buy_idx: IntArray, buy_qty: IntArray, sell_idx: IntArray, sell_qty: IntArray, volume: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Pair two queues of orders unit by unit up to ``volume`` Wh.

    Buyers ``buy_idx`` (in queue order, quantities ``buy_qty`` Wh) are filled from sellers
    ``sell_idx`` (in queue order) as if both queues were laid end to end: the k-th Wh of
    demand meets the k-th Wh of supply. Returns (buy order, sell order, Wh) per match;
    at most ``len(buy_idx) + len(sell_idx) - 1`` matches. Vectorised, O(n log n).
    """
    if volume <= 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    cb = np.cumsum(buy_qty)
    cs = np.cumsum(sell_qty)
    nb = int(np.searchsorted(cb, volume, side="left")) + 1
    ns = int(np.searchsorted(cs, volume, side="left")) + 1
    cb = np.minimum(cb[:nb], volume)
    cs = np.minimum(cs[:ns], volume)
    ends = np.sort(np.concatenate((cb, cs)), kind="stable")  # merges two sorted runs
    ends = ends[np.concatenate((ends[:1] > 0, ends[1:] != ends[:-1]))]
    starts = np.concatenate(([0], ends[:-1]))
    bi = np.searchsorted(cb, starts, side="right")
    si = np.searchsorted(cs, starts, side="right")
    return (
        buy_idx[bi].astype(np.int64),
        sell_idx[si].astype(np.int64),
        (ends - starts).astype(np.int64),
    )
