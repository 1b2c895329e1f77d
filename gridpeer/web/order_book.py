"""The offers and requests lists as JSON, rendered once per order instead of per request.

The chain index keeps every order with Wh left in memory (``ChainHub.orders``), including
the unsold rest of orders whose delivery window has passed: at 1,000 houses that is
thousands of orders after a few slots. Building an ``OrderOut`` per order and request, and
validating the list again in FastAPI, cost ~180 ms per ``/api/market/offers`` on the event
loop at 3,000 orders. :class:`OrderBook` keeps each order's JSON (both values of
``bidding_open``) until the order changes (the hub replaces an ``Order`` object whenever
the chain changes it) and each side's orders sorted by price; a request only picks the
orders open or closed at its time and joins their strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gridpeer.chain.types import Order
from gridpeer.web.models_market import OrderOut

LABEL_OF = Callable[[int], str]
HOUSE_OF = Callable[[str], "str | None"]


@dataclass(frozen=True)
class _Row:
    order: Order
    open_json: str  # bidding_open = true
    closed_json: str  # bidding_open = false


def _row(o: Order, label: str, house: str | None) -> _Row:
    out = OrderOut(
        id=str(o.id),
        label=label,
        bidding_open=True,
        side=o.side,
        owner=o.owner,
        house=house,
        remaining_wh=o.remaining_wh,
        price=str(o.price),
        start=o.start,
        end=o.end,
    )
    return _Row(
        o, out.model_dump_json(), out.model_copy(update={"bidding_open": False}).model_dump_json()
    )


def _price_key(side: str) -> Callable[[_Row], tuple[int, int]]:
    """Offers cheapest first, requests highest price first; then by id."""
    if side == "offer":
        return lambda r: (r.order.price, r.order.id)
    return lambda r: (-r.order.price, r.order.id)


@dataclass
class OrderBook:
    """Rendered order lists of one hub (see module docs); ``renders`` counts the orders
    rendered so far (each once per change)."""

    label_of: LABEL_OF
    house_of: HOUSE_OF
    renders: int = 0
    _key: tuple[int, int, int] = (-1, -1, -1)
    _rows: dict[int, _Row] = field(default_factory=dict)
    _sides: dict[str, list[_Row]] = field(default_factory=dict)

    def update(self, orders: dict[int, Order], version: int) -> None:
        """Bring the lists up to ``orders`` (the hub's dict; ``version`` its change count):
        nothing to do when neither changed; else render only new or changed orders."""
        key = (version, id(orders), len(orders))
        if key == self._key:
            return
        snapshot = list(orders.items())  # the chain thread may change the dict meanwhile
        rows: dict[int, _Row] = {}
        for oid, o in snapshot:
            old = self._rows.get(oid)
            if old is not None and old.order is o:
                rows[oid] = old
            else:
                rows[oid] = _row(o, self.label_of(o.id), self.house_of(o.owner))
                self.renders += 1
        sides: dict[str, list[_Row]] = {"offer": [], "request": []}
        for r in rows.values():
            sides.setdefault(r.order.side, []).append(r)
        for side, lst in sides.items():
            lst.sort(key=_price_key(side))
        self._rows, self._sides, self._key = rows, sides, key

    def json(self, side: str, state: str, now: int) -> str:
        """The ``side`` list as a JSON array at chain time ``now`` (unix s): ``open``
        (bidding still open: ``now < start``), ``closed`` or ``all`` (open ones first),
        each by price (offers cheapest first, requests highest first), then id."""
        rows = self._sides.get(side, [])
        parts: list[str] = []
        if state in ("open", "all"):
            parts += [r.open_json for r in rows if now < r.order.start]
        if state in ("closed", "all"):
            parts += [r.closed_json for r in rows if now >= r.order.start]
        return "[" + ",".join(parts) + "]"
