"""The edge cases users hit in other tools, for every mechanism (worked examples)."""

from __future__ import annotations

import pytest

from gridpeer.market.clearing import GridPrices
from gridpeer.market.mechanisms import get_mechanism
from tests.market.books import Row, book, triples

GRID = GridPrices(20, 4)  # mmr price 12, sdr price depends on supply/demand

MECHS = ("order_book", "uniform", "pay_as_bid", "cda", "mmr", "bill_sharing", "sdr")

# case -> (book rows, {mechanism: expected (buy, sell, Wh, price) matches})
CASES: dict[str, tuple[list[Row], dict[str, list[tuple[int, int, int, int]]]]] = {
    "nothing crosses": (
        [(0, "b", 10, 5), (1, "a", 10, 7)],
        {
            "order_book": [],
            "uniform": [],
            "pay_as_bid": [],
            "cda": [],
            "mmr": [(0, 1, 10, 12)],  # community schemes ignore limits
            "bill_sharing": [(0, 1, 10, 0)],
            "sdr": [(0, 1, 10, 4)],  # supply == demand: feed-in price
        },
    ),
    "equal prices": (
        [(0, "b", 10, 5), (1, "a", 10, 5)],
        {m: [(0, 1, 10, 5)] for m in ("order_book", "uniform", "pay_as_bid", "cda")},
    ),
    "one side empty": (
        [(0, "b", 10, 5), (1, "b", 5, 9)],
        {m: [] for m in MECHS},
    ),
    "single order": (
        [(0, "a", 10, 5)],
        {m: [] for m in MECHS},
    ),
    "partial fills": (
        [(0, "b", 10, 8), (1, "a", 4, 3), (2, "a", 4, 5), (3, "a", 4, 9)],
        {
            "order_book": [(0, 1, 4, 3), (0, 2, 4, 5)],
            "uniform": [(0, 1, 4, 8), (0, 2, 4, 8)],
            "pay_as_bid": [(0, 1, 4, 8), (0, 2, 4, 8)],
            "cda": [(0, 1, 4, 8), (0, 2, 4, 8)],  # the bid rested first: its price
            # supply 12 > demand 10: sellers pro rata 4*10/12 -> 3.33, 3.33, 3.33 -> 4, 3, 3
            "mmr": [(0, 1, 4, 12), (0, 2, 3, 12), (0, 3, 3, 12)],
        },
    ),
    "many orders at one price": (
        [(0, "b", 4, 10), (1, "b", 4, 10), (2, "b", 4, 10), (3, "a", 6, 5)],
        {
            "order_book": [(0, 3, 4, 5), (1, 3, 2, 5)],
            "uniform": [(0, 3, 4, 10), (1, 3, 2, 10)],
            "pay_as_bid": [(0, 3, 4, 10), (1, 3, 2, 10)],
            "cda": [(0, 3, 4, 10), (1, 3, 2, 10)],
            # demand 12 > supply 6: buyers pro rata 2 each
            "mmr": [(0, 3, 2, 12), (1, 3, 2, 12), (2, 3, 2, 12)],
        },
    ),
    "a house on both sides": (
        [(0, "b", 5, 10), (0, "a", 5, 2)],
        {
            "order_book": [],  # never takes its own order
            "cda": [],
            "uniform": [(0, 1, 5, 6)],  # aggregate curves: a wash, money nets to zero
            "pay_as_bid": [(0, 1, 5, 10)],
            "mmr": [(0, 1, 5, 12)],
        },
    ),
}


@pytest.mark.parametrize(
    ("case", "mech"),
    [(c, m) for c, (_, exp) in CASES.items() for m in exp],
)
def test_edge_case(case: str, mech: str) -> None:
    rows, expected = CASES[case]
    c = get_mechanism(mech).clear(book(rows), GRID)
    assert triples(c.matches) == expected[mech]
    assert c.volume_wh == sum(m[2] for m in expected[mech])
