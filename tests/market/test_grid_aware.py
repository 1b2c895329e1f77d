"""Grid-aware clearing and network fees: properties over random books and feeders."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.market.clearing import GridPrices
from gridpeer.market.grid_aware import (
    LinearFeeder,
    clear_grid_aware,
    curtail,
    market_effect,
    outward,
)
from gridpeer.market.mechanisms import MECHANISMS, get_mechanism
from gridpeer.market.network_fees import fee_matrix_from_distance, settle_with_fees
from gridpeer.market.orders import OrderArrays
from tests.market.books import book, books, props, triples

GRID = GridPrices(30, 5)
HOUSES = 6


@st.composite
def feeders(draw: st.DrawFn, violated: bool = True) -> LinearFeeder:
    """Random linear feeders over 6 houses with 1-4 quantities, some of them violated."""
    k = draw(st.integers(1, 4))
    sens = np.array(
        draw(st.lists(st.floats(-1.0, 1.0), min_size=k * HOUSES, max_size=k * HOUSES))
    ).reshape(k, HOUSES)
    value = np.array(draw(st.lists(st.floats(-5.0, 5.0), min_size=k, max_size=k)))
    lo = np.full(k, -2.0)
    hi = np.full(k, 2.0)
    if not violated:
        lo, hi = np.full(k, -np.inf), np.full(k, np.inf)
    return LinearFeeder(sens, value, lo, hi)


@props(200)
@given(books(), feeders(violated=False), st.sampled_from(sorted(MECHANISMS)))
def test_infinite_limits_give_exactly_todays_clearing(
    b: OrderArrays, f: LinearFeeder, name: str
) -> None:
    mech = get_mechanism(name)
    plain = mech.clear(b, GRID)
    aware = clear_grid_aware(mech, b, GRID, f)
    assert triples(aware.matches) == triples(plain.matches)
    assert aware.clearing_price == plain.clearing_price
    assert aware.volume_wh == plain.volume_wh


@props(300)
@given(books(), feeders(), st.sampled_from(sorted(MECHANISMS)))
def test_never_adds_to_a_violation_and_only_curtails(
    b: OrderArrays, f: LinearFeeder, name: str
) -> None:
    mech = get_mechanism(name)
    plain = mech.clear(b, GRID)
    aware = clear_grid_aware(mech, b, GRID, f)
    m = aware.matches
    effect = market_effect(f, b.house[m.buy], b.house[m.sell], m.energy_wh)
    assert not outward(f, effect).any()
    # every remaining violation is there in the non-market flows alone
    non_market = f.value - effect
    assert (non_market[f.over] > f.hi[f.over] - 1e-9).all()
    assert (non_market[f.under] < f.lo[f.under] + 1e-9).all()
    # matches only shrink, keep their order and price; volume is their sum
    p = {(bu, se, pr): wh for bu, se, wh, pr in triples(plain.matches)}
    for bu, se, wh, pr in triples(m):
        assert 0 < wh <= p[(bu, se, pr)]
    assert aware.volume_wh == int(m.energy_wh.sum()) <= plain.volume_wh


def test_curtails_the_most_harmful_match_first() -> None:
    # one line flow (quantity 0) above its limit: house 0 -> house 1 pushes it up by
    # 1 per Wh, house 2 -> house 1 by 0.5 per Wh; house 3 -> house 1 pulls it down
    sens = np.array([[1.0, 0.0, 0.5, -0.25]])
    f = LinearFeeder(sens, np.array([10.0]), np.array([-np.inf]), np.array([5.0]))
    buyer = np.array([1, 1, 1])
    seller = np.array([0, 2, 3])
    wh = np.array([4, 10, 8])
    # effect 4 + 5 - 2 = 7 > 0: cut the 1/Wh match first (all 4 Wh), then 3 - 0.5*cut <= 0
    assert curtail(f, buyer, seller, wh).tolist() == [0, 4, 8]
    # the same quantity within its limit: nothing is curtailed
    ok = LinearFeeder(sens, np.array([4.0]), np.array([-np.inf]), np.array([5.0]))
    assert curtail(ok, buyer, seller, wh).tolist() == [4, 10, 8]


def test_grid_aware_uniform_example() -> None:
    b = book([(0, "a", 50, 10), (1, "b", 50, 20), (2, "a", 50, 10), (3, "b", 50, 20)])
    # voltage at a bus (quantity 0) above its band; selling from house 0 raises it
    sens = np.array([[0.01, -0.01, 0.0, 0.0]])
    f = LinearFeeder(sens, np.array([1.12]), np.array([0.9]), np.array([1.1]))
    c = clear_grid_aware(get_mechanism("uniform"), b, GRID, f)
    sellers = b.house[c.matches.sell].tolist()
    assert 0 not in sellers and c.volume_wh == 50
    assert c.clearing_price == 15


@props(300)
@given(
    st.lists(
        st.tuples(
            st.integers(0, HOUSES - 1),
            st.integers(0, HOUSES - 1),
            st.integers(1, 10**6),
            st.integers(0, 10**12),
        ),
        max_size=30,
    ),
    st.lists(st.floats(0, 2.0), min_size=HOUSES * HOUSES, max_size=HOUSES * HOUSES),
    st.floats(0, 10**9),
)
def test_fees_conserve_money(
    rows: list[tuple[int, int, int, int]], dist: list[float], rate: float
) -> None:
    d = np.array(dist).reshape(HOUSES, HOUSES)
    fee = fee_matrix_from_distance(d, rate)
    arr = np.array(rows, dtype=np.int64).reshape(-1, 4)
    s = settle_with_fees(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], fee, HOUSES)
    assert int(s.paid_wei.sum()) == int(s.received_wei.sum()) + s.operator_wei
    assert s.operator_wei == int(s.fees_wei.sum()) == int(s.fee_wei.sum())
    for (bu, se, wh, pr), pay, f in zip(rows, s.payment_wei, s.fee_wei, strict=True):
        assert pay == wh * pr // 1000
        assert f == wh * int(fee[se, bu]) // 1000


def test_fee_matrix_validation() -> None:
    assert fee_matrix_from_distance(np.array([[0.0, 0.26]]), 100.0).tolist() == [[0, 26]]
    with pytest.raises(ValueError, match=">= 0"):
        fee_matrix_from_distance(np.array([[-1.0]]), 1.0)
    with pytest.raises(ValueError, match="sens must be"):
        LinearFeeder(np.zeros(3), np.zeros(1), np.zeros(1), np.zeros(1))
