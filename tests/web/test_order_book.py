"""The offers/requests lists rendered once per order: same answers as building every row
per request, re-rendering only what changed, and the API served from it."""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.chain.hub import ChainHub
from gridpeer.chain.types import Order
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from gridpeer.web.order_book import OrderBook
from gridpeer.web.units import trade_label

KEYS = {f"h{k}": Account.from_key((k + 1).to_bytes(32, "big")) for k in range(1, 6)}
OWNERS = [k.address for k in KEYS.values()] + ["0x" + "ab" * 20]  # the last: no house
HOUSE = {k.address.lower(): h for h, k in KEYS.items()}


def _naive(orders: list[Order], side: str, state: str, now: int) -> list[dict[str, Any]]:
    """The lists as the API built them per request before the order book."""
    rows = [
        {
            "id": str(o.id),
            "label": trade_label(o.id),
            "bidding_open": now < o.start,
            "side": o.side,
            "owner": o.owner,
            "house": HOUSE.get(o.owner.lower()),
            "remaining_wh": o.remaining_wh,
            "price": str(o.price),
            "start": o.start,
            "end": o.end,
        }
        for o in orders
        if o.side == side
    ]
    if state != "all":
        rows = [r for r in rows if r["bidding_open"] == (state == "open")]
    sign = 1 if side == "offer" else -1
    return sorted(rows, key=lambda r: (not r["bidding_open"], sign * int(r["price"]), int(r["id"])))


orders_st = st.lists(
    st.builds(
        Order,
        id=st.integers(1, 10_000),
        side=st.sampled_from(["offer", "request"]),
        owner=st.sampled_from(OWNERS),
        remaining_wh=st.integers(1, 5000),
        price=st.integers(1, 10**9),
        start=st.integers(900, 9000),
        end=st.just(99_999),
        bid_open=st.just(0),
        fills=st.just(0),
    ),
    max_size=40,
    unique_by=lambda o: o.id,
)


@settings(max_examples=60, deadline=None)
@given(orders=orders_st, now=st.integers(0, 10_000))
def test_lists_are_those_built_per_request(orders: list[Order], now: int) -> None:
    book = OrderBook(trade_label, lambda a: HOUSE.get(a.lower()))
    book.update({o.id: o for o in orders}, 1)
    for side in ("offer", "request"):
        for state in ("open", "closed", "all"):
            assert json.loads(book.json(side, state, now)) == _naive(orders, side, state, now)


def test_only_new_or_changed_orders_are_rendered_again() -> None:
    book = OrderBook(trade_label, lambda a: None)
    orders = {i: Order(i, "offer", OWNERS[0], 100, 1000 + i, 5000, 5900, 0, 0) for i in range(10)}
    book.update(orders, 1)
    assert book.renders == 10
    book.update(orders, 1)  # nothing changed
    assert book.renders == 10
    orders[3] = Order(3, "offer", OWNERS[0], 40, 1003, 5000, 5900, 0, 1)  # partly sold
    del orders[4]  # sold out
    orders[10] = Order(10, "offer", OWNERS[0], 100, 1, 5000, 5900, 0, 0)  # new, cheapest
    book.update(orders, 2)
    assert book.renders == 12
    listed = json.loads(book.json("offer", "open", 0))
    assert [r["id"] for r in listed] == ["10", "0", "1", "2", "3", "5", "6", "7", "8", "9"]
    assert listed[4]["remaining_wh"] == 40


def test_api_lists_the_hubs_orders_and_follows_its_changes(ctx: WebContext) -> None:
    hub = ChainHub(market=None, clock=ctx.clock, demo_keys=dict(KEYS))  # type: ignore[arg-type]
    now = int(ctx.clock.timestamp())
    hub.orders = {
        1: Order(1, "offer", OWNERS[0], 500, 200, now + 900, now + 1800, 0, 0),
        2: Order(2, "offer", OWNERS[1], 300, 100, now + 900, now + 1800, 0, 0),
        3: Order(3, "offer", OWNERS[2], 700, 50, now - 900, now, 0, 0),  # window started
        4: Order(4, "request", OWNERS[5], 100, 90, now + 900, now + 1800, 0, 0),
    }
    ctx.chain = hub
    client = TestClient(create_app(ctx))
    offers = client.get("/api/market/offers").json()
    assert [(o["id"], o["house"], o["bidding_open"]) for o in offers] == [
        ("2", "h2", True),
        ("1", "h1", True),
    ]
    assert [o["id"] for o in client.get("/api/market/offers?state=all").json()] == ["2", "1", "3"]
    assert [o["id"] for o in client.get("/api/market/offers?state=closed").json()] == ["3"]
    assert [(o["id"], o["house"]) for o in client.get("/api/market/requests").json()] == [
        ("4", None)
    ]
    hub.orders = {
        **hub.orders,
        1: Order(1, "offer", OWNERS[0], 20, 10, now + 900, now + 1800, 0, 1),
    }
    hub.version += 1  # as the indexer does on a block with events
    offers = client.get("/api/market/offers").json()
    assert [(o["id"], o["remaining_wh"]) for o in offers] == [("1", 20), ("2", 300)]


def test_house_of_follows_replaced_demo_keys(ctx: WebContext) -> None:
    hub = ChainHub(market=None, clock=ctx.clock, demo_keys=dict(KEYS))  # type: ignore[arg-type]
    a1 = KEYS["h1"].address
    assert hub.house_of(a1.upper().replace("0X", "0x")) == "h1"
    assert hub.house_of(OWNERS[-1]) is None
    hub.demo_keys = {"h9": KEYS["h1"]}
    assert hub.house_of(a1) == "h9"
    hub.demo_keys["h10"] = KEYS["h2"]  # grows in place
    assert hub.house_of(KEYS["h2"].address) == "h10"
