"""Worked examples for the uniform-price and pay-as-bid double auctions."""

from __future__ import annotations

import pytest

from gridpeer.market.auction import PayAsBid, UniformPrice, find_crossing
from gridpeer.market.clearing import GridPrices
from tests.market.books import book, triples

GRID = GridPrices(200, 50)


def test_classic_book_midpoint_price() -> None:
    b = book(
        [
            (0, "b", 5, 10),
            (1, "b", 5, 8),
            (2, "b", 5, 6),
            (3, "a", 5, 4),
            (4, "a", 5, 7),
            (5, "a", 5, 9),
        ]
    )
    c = UniformPrice().clear(b, GRID)
    assert c.volume_wh == 10
    assert c.price_interval == (7, 8)  # max(A(10)=7, B(11)=6), min(B(10)=8, A(11)=9)
    assert c.clearing_price == 7  # 7 + (8 - 7) * 1 // 2
    assert triples(c.matches) == [(0, 3, 5, 7), (1, 4, 5, 7)]
    assert UniformPrice(1, 1).clear(b, GRID).clearing_price == 8
    assert UniformPrice(0, 1).clear(b, GRID).clearing_price == 7


def test_pay_as_bid_prices_each_match_at_the_bid() -> None:
    b = book([(0, "b", 5, 10), (1, "b", 5, 8), (3, "a", 5, 4), (4, "a", 5, 7)])
    c = PayAsBid().clear(b, GRID)
    assert triples(c.matches) == [(0, 2, 5, 10), (1, 3, 5, 8)]
    assert c.clearing_price is None
    half = PayAsBid(1, 2).clear(b, GRID)
    assert half.matches.price.tolist() == [7, 7]  # 4 + 6 // 2, 7 + 1 // 2


def test_nothing_crosses() -> None:
    c = UniformPrice().clear(book([(0, "b", 10, 5), (1, "a", 10, 7)]), GRID)
    assert c.volume_wh == 0 and len(c.matches) == 0
    assert c.clearing_price is None and c.price_interval is None


def test_equal_prices_trade_at_that_price() -> None:
    c = UniformPrice().clear(book([(0, "b", 10, 5), (1, "a", 10, 5)]), GRID)
    assert (c.volume_wh, c.clearing_price, c.price_interval) == (10, 5, (5, 5))


@pytest.mark.parametrize("side", ["b", "a"])
def test_one_side_empty_or_single_order(side: str) -> None:
    for rows in ([(0, side, 10, 5)], [(0, side, 10, 5), (1, side, 3, 9)], []):
        c = UniformPrice().clear(book(rows), GRID)
        assert c.volume_wh == 0 and c.clearing_price is None


def test_partial_fill_of_the_marginal_bid_sets_price_to_its_limit() -> None:
    b = book([(0, "b", 10, 8), (1, "a", 4, 3), (2, "a", 4, 5), (3, "a", 4, 9)])
    c = UniformPrice().clear(b, GRID)
    assert c.volume_wh == 8
    assert c.price_interval == (8, 8)  # the bid still wants Wh at 8: price can't be below
    assert triples(c.matches) == [(0, 1, 4, 8), (0, 2, 4, 8)]


def test_many_orders_at_one_price_fill_in_time_priority() -> None:
    # three bids at 10 with priorities 3, 1, 2; supply of 6 Wh
    b = book([(0, "b", 4, 10, 3), (1, "b", 4, 10, 1), (2, "b", 4, 10, 2), (3, "a", 6, 5, 0)])
    c = UniformPrice().clear(b, GRID)
    assert triples(c.matches) == [(1, 3, 4, 10), (2, 3, 2, 10)]
    assert c.clearing_price == 10


def test_same_priority_ties_break_by_position() -> None:
    b = book([(0, "a", 4, 5, 0), (1, "a", 4, 5, 0), (2, "b", 6, 9, 0)])
    c = UniformPrice().clear(b, GRID)
    assert triples(c.matches) == [(2, 0, 4, 5), (2, 1, 2, 5)]  # 2 Wh left unsold at 5
    assert c.price_interval == (5, 5)


def test_house_on_both_sides_is_cleared_on_the_aggregate_curves() -> None:
    # house 0 bids 5@10 and asks 5@2; house 1 asks 5@9: house 0 is its own cheapest seller
    b = book([(0, "b", 5, 10), (0, "a", 5, 2), (1, "a", 5, 9)])
    c = UniformPrice().clear(b, GRID)
    assert c.volume_wh == 5 and c.price_interval == (2, 9)
    assert triples(c.matches) == [(0, 1, 5, 5)]


def test_crossing_sorts_best_first() -> None:
    b = book([(0, "a", 1, 9), (1, "b", 1, 3), (2, "a", 1, 1), (3, "b", 1, 7)])
    x = find_crossing(b)
    assert x.bids.tolist() == [3, 1] and x.asks.tolist() == [2, 0]
    assert x.volume_wh == 1 and x.interval == (3, 7)


def test_bad_k_is_rejected() -> None:
    with pytest.raises(ValueError, match="k = k_num/k_den"):
        UniformPrice(3, 2)
    with pytest.raises(ValueError, match="k = k_num/k_den"):
        PayAsBid(1, 0)


def test_huge_prices_stay_exact() -> None:
    top = 2**63 - 1
    b = book([(0, "b", 10**9, top), (1, "a", 10**9, top - 10)])
    c = PayAsBid(3, 7).clear(b, GRID)
    assert c.matches.price.tolist() == [top - 10 + 10 * 3 // 7]
    u = UniformPrice().clear(b, GRID)
    assert u.clearing_price == top - 10 + 5
    assert u.matches.payments_wei() == [10**9 * (top - 5) // 1000]
