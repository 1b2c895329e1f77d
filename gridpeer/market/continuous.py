"""Continuous double auction (CDA) with price-time priority — the hybrid market.

Orders arrive one by one (in time priority); each trades immediately against the best
resting orders of the other side while prices cross, at the resting (maker) order's
price, and the rest of it waits in the book. Tie-break: better price, then earlier
priority, then earlier arrival. A house never trades with itself.

Two forms: :class:`ContinuousDoubleAuction` clears a whole slot's book given as arrays
(orders replayed in priority order; for the simulator), and :class:`ContinuousBook` is
the live book of one slot for the coordinator (submit, cancel, expiry, gate closure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from gridpeer.market.clearing import Clearing, GridPrices, MatchArrays, no_trade
from gridpeer.market.engine import Engine, Fill
from gridpeer.market.orders import Order, OrderArrays, Side
from gridpeer.market.trades import Match


def fills_to_clearing(name: str, fills: list[Fill]) -> Clearing:
    """Pack engine fills into a :class:`Clearing` (no uniform price)."""
    if not fills:
        return no_trade(name)
    arr = np.array(fills, dtype=np.int64).reshape(-1, 4)
    m = MatchArrays(arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy(), arr[:, 3].copy())
    return Clearing(name, m, None, None, int(arr[:, 2].sum()))


def load_engine(book: OrderArrays) -> tuple[Engine, list[int]]:
    """An engine holding every order of ``book`` (not yet in the book), and the order of
    arrival (by priority, then position)."""
    eng = Engine()
    prio = book.priorities().tolist()
    for h, b, e, p, t in zip(
        book.house.tolist(),
        book.is_bid.tolist(),
        book.energy_wh.tolist(),
        book.price.tolist(),
        prio,
        strict=True,
    ):
        eng.add(h, b, e, p, t)
    arrival = sorted(range(len(book)), key=lambda i: (prio[i], i))
    return eng, arrival


@dataclass(frozen=True)
class ContinuousDoubleAuction:
    """CDA over one slot's book: orders replayed in time priority (see module doc)."""

    name: str = "cda"

    def clear(self, book: OrderArrays, grid: GridPrices | None = None) -> Clearing:
        """Clear one slot (grid prices are not used)."""
        eng, arrival = load_engine(book)
        fills: list[Fill] = []
        for i in arrival:
            fills.extend(eng.submit(i))
        return fills_to_clearing(self.name, fills)


@dataclass
class ContinuousBook:
    """Live CDA book for one delivery slot.

    Attributes:
        slot: UTC start of the delivery slot every order must be for.
        gate_closure: UTC time from which no order is accepted (e.g. from the calendar).
    """

    slot: datetime
    gate_closure: datetime
    _orders: list[Order] = field(default_factory=list)
    _by_id: dict[str, int] = field(default_factory=dict)
    _now: datetime | None = None
    _engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self._engine = Engine(is_live=self._live)

    def _live(self, i: int) -> bool:
        return self._now is None or self._orders[i].is_live(self._now)

    def submit(self, order: Order, now: datetime) -> list[Match]:
        """Add an order at UTC ``now``; returns the trades it made (at resting prices).

        Raises:
            ValueError: wrong slot, duplicate id, expired order, or gate closed.
        """
        if order.slot != self.slot:
            raise ValueError(f"order {order.id} is for slot {order.slot}, book is {self.slot}")
        if order.id in self._by_id:
            raise ValueError(f"duplicate order id {order.id}")
        if now >= self.gate_closure:
            raise ValueError(f"gate closed at {self.gate_closure.isoformat()} for {self.slot}")
        if not order.is_live(now):
            raise ValueError(f"order {order.id} already expired at {now.isoformat()}")
        self._now = now
        i = self._engine.add(
            order.house,
            order.side is Side.BID,
            order.energy_wh,
            order.price_wei_per_kwh,
            order.priority,
        )
        self._orders.append(order)
        self._by_id[order.id] = i
        return [self._match(f) for f in self._engine.submit(i)]

    def _match(self, f: Fill) -> Match:
        b, s, wh, price = f
        ob, os_ = self._orders[b], self._orders[s]
        return Match(ob.id, os_.id, ob.house, os_.house, wh, price)

    def cancel(self, order_id: str) -> int:
        """Cancel an order; returns its unfilled Wh. Raises KeyError for unknown ids."""
        return self._engine.cancel(self._by_id[order_id])

    def remaining_wh(self, order_id: str) -> int:
        """Unfilled Wh of an order (0 once filled or cancelled)."""
        return self._engine.remaining[self._by_id[order_id]]

    def resting(self, side: Side, now: datetime) -> list[tuple[Order, int]]:
        """Open orders of one side at UTC ``now``, best first, with their open Wh."""
        self._now = now
        idx = self._engine.resting(side is Side.BID)
        return [(self._orders[i], self._engine.remaining[i]) for i in idx]
