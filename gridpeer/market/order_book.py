"""Order book with pick-and-take: the thesis's decentralised market.

Sellers post offers (asks) and buyers post requests (bids); nothing matches by itself.
A peer *takes* a posted order of the other side — all of it or part — and trades at the
posted (maker) price. :class:`OrderBook` is the live book of one slot for the web UI and
the agents; :class:`PickAndTake` simulates a slot of peers picking, for the simulator:
every ask is posted first; then each bid, in time priority, takes the cheapest offers
of other houses priced at or below its limit (cheapest first, then earliest), paying
each offer's price. Afterwards no remaining request of one house crosses a remaining
offer of another (so sellers picking requests would find nothing more).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gridpeer.market.clearing import Clearing, GridPrices
from gridpeer.market.continuous import fills_to_clearing, load_engine
from gridpeer.market.engine import Fill
from gridpeer.market.orders import Order, OrderArrays, Side, validate_order_values
from gridpeer.market.trades import Match


@dataclass(frozen=True)
class PickAndTake:
    """Simulated pick-and-take over one slot's book (see module doc)."""

    name: str = "order_book"

    def clear(self, book: OrderArrays, grid: GridPrices | None = None) -> Clearing:
        """Clear one slot (grid prices are not used)."""
        eng, arrival = load_engine(book)
        is_bid = book.is_bid.tolist()
        asks = [i for i in arrival if not is_bid[i]]
        bids = [i for i in arrival if is_bid[i]]
        for i in asks:
            eng.rest(i)
        fills: list[Fill] = []
        for i in bids:
            fills.extend(eng.submit(i, rest=False))
        return fills_to_clearing(self.name, fills)


@dataclass
class OrderBook:
    """Live pick-and-take book for one delivery slot.

    Attributes:
        slot: UTC start of the delivery slot every order must be for.
        gate_closure: UTC time from which no order is posted or taken.
    """

    slot: datetime
    gate_closure: datetime
    _orders: dict[str, Order] = field(default_factory=dict)
    _open: dict[str, int] = field(default_factory=dict)

    def _check_open(self, now: datetime) -> None:
        if now >= self.gate_closure:
            raise ValueError(f"gate closed at {self.gate_closure.isoformat()} for {self.slot}")

    def post(self, order: Order, now: datetime) -> None:
        """Post an offer (ask) or request (bid) at UTC ``now``.

        Raises:
            ValueError: wrong slot, duplicate id, already expired, or gate closed.
        """
        self._check_open(now)
        if order.slot != self.slot:
            raise ValueError(f"order {order.id} is for slot {order.slot}, book is {self.slot}")
        if order.id in self._orders:
            raise ValueError(f"duplicate order id {order.id}")
        if not order.is_live(now):
            raise ValueError(f"order {order.id} already expired at {now.isoformat()}")
        self._orders[order.id] = order
        self._open[order.id] = order.energy_wh

    def take(
        self, order_id: str, taker_house: str, energy_wh: int, now: datetime, taker_id: str = ""
    ) -> Match:
        """``taker_house`` takes ``energy_wh`` Wh of a posted order at its price.

        ``taker_id`` names the taker's side of the trade (default ``"take:<house>"``).

        Raises:
            KeyError: unknown order.
            ValueError: gate closed, order expired or filled, own order, or more Wh than open.
        """
        self._check_open(now)
        validate_order_values(energy_wh, 0)
        maker = self._orders[order_id]
        open_wh = self._open[order_id]
        if not maker.is_live(now):
            raise ValueError(f"order {order_id} expired at {maker.expires_at}")
        if maker.house == taker_house:
            raise ValueError(f"house {taker_house} cannot take its own order {order_id}")
        if energy_wh > open_wh:
            raise ValueError(f"order {order_id} has {open_wh} Wh open, {energy_wh} Wh asked")
        self._open[order_id] = open_wh - energy_wh
        tid = taker_id or f"take:{taker_house}"
        if maker.side is Side.ASK:
            return Match(
                tid, maker.id, taker_house, maker.house, energy_wh, maker.price_wei_per_kwh
            )
        return Match(maker.id, tid, maker.house, taker_house, energy_wh, maker.price_wei_per_kwh)

    def cancel(self, order_id: str) -> int:
        """Withdraw a posted order; returns its open Wh. KeyError for unknown ids."""
        left = self._open[order_id]
        self._open[order_id] = 0
        return left

    def listing(self, side: Side, now: datetime) -> list[tuple[Order, int]]:
        """Open orders of one side at UTC ``now`` with their open Wh, best first for a
        taker: offers cheapest first, requests highest first, then time priority."""
        live = [
            (o, self._open[o.id])
            for o in self._orders.values()
            if o.side is side and self._open[o.id] > 0 and o.is_live(now)
        ]
        sign = 1 if side is Side.ASK else -1
        live.sort(key=lambda t: (sign * t[0].price_wei_per_kwh, t[0].priority))
        return live
