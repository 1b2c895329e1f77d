"""Helpers to write order books tersely in tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

from gridpeer.market.clearing import MatchArrays
from gridpeer.market.orders import OrderArrays

# (house, "b" | "a", Wh, price wei/kWh[, priority])
Row = tuple[int, str, int, int] | tuple[int, str, int, int, int]


def book(rows: Sequence[Row]) -> OrderArrays:
    """Build OrderArrays from rows; priority defaults to the row position."""
    prio = [r[4] if len(r) == 5 else i for i, r in enumerate(rows)]
    return OrderArrays(
        house=np.array([r[0] for r in rows], dtype=np.int64),
        is_bid=np.array([r[1] == "b" for r in rows], dtype=np.bool_),
        energy_wh=np.array([r[2] for r in rows], dtype=np.int64),
        price=np.array([r[3] for r in rows], dtype=np.int64),
        priority=np.array(prio, dtype=np.int64),
    )


def triples(m: MatchArrays) -> list[tuple[int, int, int, int]]:
    """Matches as (buy, sell, Wh, price) tuples."""
    return list(
        zip(m.buy.tolist(), m.sell.tolist(), m.energy_wh.tolist(), m.price.tolist(), strict=True)
    )


@st.composite
def books(draw: st.DrawFn, max_orders: int = 30, max_price: int = 30) -> OrderArrays:
    """Random small books: few houses, small Wh and prices so ties are frequent."""
    n = draw(st.integers(0, max_orders))
    rows: list[Row] = []
    for _ in range(n):
        rows.append(
            (
                draw(st.integers(0, 5)),
                draw(st.sampled_from("ba")),
                draw(st.integers(1, 50)),
                draw(st.integers(0, max_price)),
                draw(st.integers(0, 5)),
            )
        )
    return book(rows)


def props(max_examples: int) -> settings:
    """Hypothesis settings for this layer: derandomized (CI-deterministic), no deadline."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True)
