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
from gridpeer.market.preferences import Preference, Preferences
from gridpeer.market.structured import Structure, clear_structured, level_fee_rate

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
        fee_rate: market-structure fee per trade, wei per kWh, paid by the buyer to the
            grid operator on the delivered Wh (None = no fees; see
            :mod:`gridpeer.market.structured`).
    """

    buyer: I64
    seller: I64
    wh: I64
    price: I64
    fee_rate: I64 | None = None

    def select(self, keep: npt.NDArray[np.bool_], wh: I64 | None = None) -> Trades:
        """The trades where ``keep``, optionally with new Wh (length of all trades)."""
        w = self.wh if wh is None else wh
        fee = None if self.fee_rate is None else self.fee_rate[keep]
        return Trades(self.buyer[keep], self.seller[keep], w[keep], self.price[keep], fee)

    def fee_rates(self) -> I64:
        """Fee per trade, wei/kWh (zeros without fees)."""
        if self.fee_rate is None:
            return np.zeros(self.wh.shape[0], dtype=np.int64)
        return self.fee_rate

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
        fees = any(p.fee_rate is not None for p in parts)
        return Trades(
            np.concatenate([p.buyer for p in parts]),
            np.concatenate([p.seller for p in parts]),
            np.concatenate([p.wh for p in parts]),
            np.concatenate([p.price for p in parts]),
            np.concatenate([p.fee_rates() for p in parts]) if fees else None,
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
    structure: SlotStructure | None = None,
) -> Trades:
    """Clear one slot's per-house orders.

    Args:
        mech: the mechanism.
        sell_wh, ask: Wh offered and limit price (wei/kWh) per house (0 Wh = no offer).
        buy_wh, bid: Wh requested and limit price (wei/kWh) per house.
        arrival: time priority per house (smaller = earlier).
        grid: the slot's grid prices.
        structure: preferences, feeder markets and fees (None: the flat market).
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
    if structure is not None:
        return structure.clear(mech, book, grid)
    m = mech.clear(book, grid).matches
    if len(m) == 0:
        return Trades.empty()
    return Trades(house[m.buy], house[m.sell], m.energy_wh.copy(), m.price.copy())


@dataclass(frozen=True)
class SlotStructure:
    """The scenario's market structure in house terms (see
    :mod:`gridpeer.market.structured`): zones and level fees, and per house its bids'
    preference kind, named partner (house index or −1) and premium (wei/kWh), and
    whether it sells green energy."""

    structure: Structure
    kind: I64
    partner: I64
    premium: I64
    green: npt.NDArray[np.bool_]

    def clear(self, mech: Mechanism, book: OrderArrays, grid: GridPrices) -> Trades:
        """Clear a book of per-house orders through the structure."""
        h = book.house
        bid = book.is_bid
        prefs = Preferences(
            np.where(bid, self.kind[h], Preference.NONE).astype(np.int64),
            np.where(bid, self.partner[h], -1).astype(np.int64),
            np.where(bid, self.premium[h], 0).astype(np.int64),
            self.structure.zone,
            self.green,
        )
        res = clear_structured(mech, book, grid, self.structure, prefs)
        m = res.matches
        if len(m) == 0:
            return Trades.empty()
        rate = level_fee_rate(self.structure, h[m.buy], h[m.sell], res.level)
        return Trades(h[m.buy], h[m.sell], m.energy_wh.copy(), m.price.copy(), rate)
