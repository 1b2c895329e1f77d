"""Adapter from per-house order quantities to the market layer's mechanisms.

The simulator holds one number per house (Wh to sell or buy, limit price); the market
layer (:mod:`gridpeer.market`) clears books of orders. This module builds the slot's
:class:`~gridpeer.market.orders.OrderArrays` (houses with nothing to trade post no
order; time priority = the slot's random arrival rank), clears them with the named
mechanism, and maps the matches back to house indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridpeer.market.clearing import GridPrices, Mechanism
from gridpeer.market.mechanisms import get_mechanism
from gridpeer.market.money import payments_wei_array
from gridpeer.market.orders import OrderArrays

I64 = npt.NDArray[np.int64]

MARKETS = {
    "order-book": "order_book",
    "uniform": "uniform",
    "pay-as-bid": "pay_as_bid",
    "cda": "cda",
    "mid-market": "mmr",
    "bill-sharing": "bill_sharing",
    "sdr": "sdr",
}
"""Command-line market names → :mod:`gridpeer.market.mechanisms` names."""

PRICE_BLIND = frozenset({"mid-market", "bill-sharing", "sdr"})
"""Designs that ignore limit prices (cleared once per slot)."""


@dataclass(frozen=True)
class Trades:
    """Matched energy between houses (arrays of equal length).

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

    def rows(self) -> list[tuple[int, int, int, int]]:
        """One ``(buyer, seller, wh, price)`` tuple of Python ints per trade."""
        return list(
            zip(
                self.buyer.tolist(),
                self.seller.tolist(),
                self.wh.tolist(),
                self.price.tolist(),
                strict=True,
            )
        )

    @staticmethod
    def concat(parts: list[Trades]) -> Trades:
        """All trades of ``parts`` in order."""
        if not parts:
            return Trades.empty()
        if len(parts) == 1:
            return parts[0]
        return Trades(
            np.concatenate([p.buyer for p in parts]),
            np.concatenate([p.seller for p in parts]),
            np.concatenate([p.wh for p in parts]),
            np.concatenate([p.price for p in parts]),
        )

    def payments_wei(self) -> I64:
        """Money per trade, wei (``wh * price // 1000``, the market's and the contract's rule)."""
        return payments_wei_array(self.wh, self.price)

    def __len__(self) -> int:
        return int(self.wh.shape[0])


def mechanism(market: str) -> Mechanism:
    """The market layer's mechanism for a command-line market name.

    Raises:
        ValueError: unknown market name.
    """
    if market not in MARKETS:
        raise ValueError(f"unknown market {market!r}; choose one of {', '.join(MARKETS)}")
    return get_mechanism(MARKETS[market])


def clear_slot(
    mech: Mechanism,
    sell_wh: I64,
    ask: I64,
    buy_wh: I64,
    bid: I64,
    arrival: I64,
    grid: GridPrices,
) -> Trades:
    """Clear one slot's per-house orders.

    Args:
        mech: the mechanism.
        sell_wh, ask: Wh offered and limit price (wei/kWh) per house (0 Wh = no offer).
        buy_wh, bid: Wh requested and limit price (wei/kWh) per house.
        arrival: time priority per house (smaller = earlier).
        grid: the slot's grid prices.
    """
    sellers = np.flatnonzero(sell_wh > 0)
    buyers = np.flatnonzero(buy_wh > 0)
    if sellers.size == 0 or buyers.size == 0:
        return Trades.empty()
    house = np.concatenate((buyers, sellers)).astype(np.int64)
    book = OrderArrays(
        house=house,
        is_bid=np.concatenate(
            (np.ones(buyers.size, dtype=np.bool_), np.zeros(sellers.size, dtype=np.bool_))
        ),
        energy_wh=np.concatenate((buy_wh[buyers], sell_wh[sellers])).astype(np.int64),
        price=np.concatenate((bid[buyers], ask[sellers])).astype(np.int64),
        priority=arrival[house].astype(np.int64),
    )
    m = mech.clear(book, grid).matches
    if len(m) == 0:
        return Trades.empty()
    return Trades(house[m.buy], house[m.sell], m.energy_wh.copy(), m.price.copy())
