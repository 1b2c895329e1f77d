"""Pick-and-take order book: the simulated mechanism and the live book."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridpeer.market.clearing import GridPrices
from gridpeer.market.order_book import OrderBook, PickAndTake
from gridpeer.market.orders import Order, Side
from gridpeer.market.trades import Match
from tests.market.books import book, triples

GRID = GridPrices(200, 50)
SLOT = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)
T0 = SLOT - timedelta(hours=2)


def test_buyers_pick_cheapest_offers_at_the_offer_price() -> None:
    # bids arrive after all asks regardless of priority; the bid with priority 0 picks first
    b = book([(0, "b", 6, 10, 1), (1, "b", 3, 10, 0), (2, "a", 4, 8, 5), (3, "a", 4, 5, 6)])
    c = PickAndTake().clear(b, GRID)
    assert triples(c.matches) == [(1, 3, 3, 5), (0, 3, 1, 5), (0, 2, 4, 8)]


def test_a_house_skips_its_own_offer() -> None:
    b = book([(0, "a", 5, 1), (1, "a", 5, 3), (0, "b", 5, 9)])
    c = PickAndTake().clear(b, GRID)
    assert triples(c.matches) == [(2, 1, 5, 3)]


def test_limit_prices_bind() -> None:
    b = book([(0, "b", 5, 4), (1, "a", 5, 6)])
    assert PickAndTake().clear(b, GRID).volume_wh == 0


def test_live_book_post_list_take_cancel() -> None:
    ob = OrderBook(SLOT, gate_closure=SLOT)
    ob.post(Order("o1", "h1", Side.ASK, 500, 120, SLOT, priority=1), T0)
    ob.post(Order("o2", "h2", Side.ASK, 300, 110, SLOT, priority=2), T0)
    ob.post(Order("r1", "h3", Side.BID, 200, 150, SLOT, priority=3), T0)
    assert [o.id for o, _ in ob.listing(Side.ASK, T0)] == ["o2", "o1"]
    m = ob.take("o1", "h3", 200, T0, taker_id="t1")
    assert m == Match("t1", "o1", "h3", "h1", 200, 120)
    assert m.payment_wei == 24  # 200 Wh * 120 wei/kWh // 1000
    assert ob.listing(Side.ASK, T0)[1][1] == 300
    sold = ob.take("r1", "h1", 50, T0)
    assert sold == Match("r1", "take:h1", "h3", "h1", 50, 150)
    assert ob.cancel("o2") == 300
    assert [o.id for o, _ in ob.listing(Side.ASK, T0)] == ["o1"]


def test_live_book_rejects_bad_takes() -> None:
    ob = OrderBook(SLOT, gate_closure=SLOT)
    ob.post(Order("o1", "h1", Side.ASK, 100, 120, SLOT, expires_at=T0 + timedelta(hours=1)), T0)
    with pytest.raises(ValueError, match="own order"):
        ob.take("o1", "h1", 10, T0)
    with pytest.raises(ValueError, match="100 Wh open"):
        ob.take("o1", "h2", 101, T0)
    with pytest.raises(ValueError, match="energy_wh"):
        ob.take("o1", "h2", 0, T0)
    with pytest.raises(ValueError, match="expired"):
        ob.take("o1", "h2", 10, T0 + timedelta(hours=1))
    with pytest.raises(ValueError, match="gate closed"):
        ob.take("o1", "h2", 10, SLOT)
    with pytest.raises(KeyError):
        ob.take("zz", "h2", 10, T0)
    with pytest.raises(ValueError, match="duplicate"):
        ob.post(Order("o1", "h1", Side.ASK, 100, 120, SLOT), T0)
    assert ob.listing(Side.ASK, T0)[0][1] == 100  # nothing changed
