"""Continuous double auction: replayed books and the live book."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridpeer.market.clearing import GridPrices
from gridpeer.market.continuous import ContinuousBook, ContinuousDoubleAuction
from gridpeer.market.orders import Order, Side
from gridpeer.market.trades import Match
from tests.market.books import book, triples

GRID = GridPrices(200, 50)
SLOT = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)
T0 = SLOT - timedelta(hours=2)


def test_trades_at_the_resting_price_in_arrival_order() -> None:
    # ask 5@6 rests; bid 3@9 takes 3 at 6; bid 4@7 takes 2 at 6 and rests 2@7;
    # ask 5@5 then hits the resting bid at 7.
    b = book([(0, "a", 5, 6), (1, "b", 3, 9), (2, "b", 4, 7), (3, "a", 5, 5)])
    c = ContinuousDoubleAuction().clear(b, GRID)
    assert triples(c.matches) == [(1, 0, 3, 6), (2, 0, 2, 6), (2, 3, 2, 7)]
    assert c.volume_wh == 7 and c.clearing_price is None


def test_price_then_time_priority_among_resting_orders() -> None:
    b = book([(0, "a", 2, 6, 0), (1, "a", 2, 5, 2), (2, "a", 2, 5, 1), (3, "b", 5, 9, 3)])
    c = ContinuousDoubleAuction().clear(b, GRID)
    assert triples(c.matches) == [(3, 2, 2, 5), (3, 1, 2, 5), (3, 0, 1, 6)]


def test_no_self_trade_the_own_order_keeps_its_place() -> None:
    b = book([(0, "a", 2, 1), (1, "a", 2, 4), (0, "b", 3, 9), (2, "b", 2, 9)])
    c = ContinuousDoubleAuction().clear(b, GRID)
    assert triples(c.matches) == [(2, 1, 2, 4), (3, 0, 2, 1)]


def test_nothing_crosses_and_empty_book() -> None:
    assert (
        ContinuousDoubleAuction().clear(book([(0, "b", 1, 1), (1, "a", 1, 2)]), GRID).volume_wh == 0
    )
    assert ContinuousDoubleAuction().clear(book([]), GRID).volume_wh == 0


def order(i: str, house: str, side: Side, wh: int, price: int, **kw: object) -> Order:
    return Order(i, house, side, wh, price, SLOT, **kw)  # type: ignore[arg-type]


def test_live_book_submit_cancel_and_expiry() -> None:
    lb = ContinuousBook(SLOT, gate_closure=SLOT)
    assert lb.submit(order("a1", "h1", Side.ASK, 10, 100), T0) == []
    exp = T0 + timedelta(minutes=5)
    assert lb.submit(order("a2", "h2", Side.ASK, 10, 90, expires_at=exp), T0) == []
    fills = lb.submit(order("b1", "h3", Side.BID, 4, 120), T0 + timedelta(minutes=1))
    assert fills == [Match("b1", "a2", "h3", "h2", 4, 90)]
    assert fills[0].payment_wei == 0  # 4 Wh * 90 wei/kWh // 1000
    # a2 expired: the next bid skips it and takes a1
    later = T0 + timedelta(minutes=10)
    fills = lb.submit(order("b2", "h3", Side.BID, 5, 120), later)
    assert fills == [Match("b2", "a1", "h3", "h1", 5, 100)]
    assert lb.cancel("a1") == 5
    assert lb.resting(Side.ASK, later) == []
    assert lb.remaining_wh("b2") == 0


def test_live_book_rejects_bad_input() -> None:
    lb = ContinuousBook(SLOT, gate_closure=SLOT - timedelta(minutes=15))
    lb.submit(order("a1", "h1", Side.ASK, 10, 100), T0)
    with pytest.raises(ValueError, match="duplicate"):
        lb.submit(order("a1", "h1", Side.ASK, 10, 100), T0)
    with pytest.raises(ValueError, match="gate closed"):
        lb.submit(order("a3", "h1", Side.ASK, 10, 100), SLOT - timedelta(minutes=15))
    with pytest.raises(ValueError, match="slot"):
        lb.submit(Order("x", "h1", Side.ASK, 1, 1, SLOT + timedelta(hours=1)), T0)
    with pytest.raises(ValueError, match="expired"):
        lb.submit(order("a4", "h1", Side.ASK, 1, 1, expires_at=T0), T0)
    with pytest.raises(KeyError):
        lb.cancel("nope")
    assert [o.id for o, _ in lb.resting(Side.ASK, T0)] == ["a1"]
