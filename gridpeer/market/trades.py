"""Matches in object form, for the coordinator, the chain layer and the web UI."""

from __future__ import annotations

from dataclasses import dataclass

from gridpeer.market.clearing import Clearing
from gridpeer.market.money import payment_wei
from gridpeer.market.orders import IndexedOrders


@dataclass(frozen=True)
class Match:
    """One trade: ``buyer`` buys ``energy_wh`` Wh from ``seller`` at ``price_wei_per_kwh``.

    Attributes:
        buy_order: id of the bid.
        sell_order: id of the ask.
        buyer: buyer house id.
        seller: seller house id.
        energy_wh: traded energy, Wh (> 0).
        price_wei_per_kwh: price, wei per kWh.
    """

    buy_order: str
    sell_order: str
    buyer: str
    seller: str
    energy_wh: int
    price_wei_per_kwh: int

    @property
    def payment_wei(self) -> int:
        """What the buyer pays and the seller receives, wei (``Wh * price // 1000``)."""
        return payment_wei(self.energy_wh, self.price_wei_per_kwh)

    def to_dict(self) -> dict[str, str | int]:
        """JSON-ready dict (wei as int; JSON clients beyond 2^53 should read it as text)."""
        return {
            "buy_order": self.buy_order,
            "sell_order": self.sell_order,
            "buyer": self.buyer,
            "seller": self.seller,
            "energy_wh": self.energy_wh,
            "price_wei_per_kwh": self.price_wei_per_kwh,
            "payment_wei": self.payment_wei,
        }


def to_matches(indexed: IndexedOrders, clearing: Clearing) -> list[Match]:
    """Translate array matches back to order and house ids."""
    m = clearing.matches
    out: list[Match] = []
    for b, s, wh, p in zip(
        m.buy.tolist(), m.sell.tolist(), m.energy_wh.tolist(), m.price.tolist(), strict=True
    ):
        ob, os_ = indexed.orders[b], indexed.orders[s]
        out.append(Match(ob.id, os_.id, ob.house, os_.house, wh, p))
    return out
