"""Hierarchical markets and trading preferences: conservation and the documented rules,
hypothesis over random books."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.market.clearing import GridPrices
from gridpeer.market.hierarchy import LeveledMatches, clear_hierarchical
from gridpeer.market.mechanisms import MECHANISMS, get_mechanism
from gridpeer.market.orders import OrderArrays
from gridpeer.market.preferences import (
    Preference,
    Preferences,
    clear_preferred,
    clear_with_preferences,
)
from gridpeer.market.structured import Structure, clear_structured
from tests.market.books import book, books, props, triples

GRID = GridPrices(30, 5)
HOUSES = 6  # books() draws houses 0..5


def _check_conservation(b: OrderArrays, res: LeveledMatches) -> None:
    m = res.matches
    traded = res.traded_wh(len(b))
    assert (traded <= b.energy_wh).all()
    assert (m.energy_wh > 0).all()
    assert b.is_bid[m.buy].all() and not b.is_bid[m.sell].any()
    paid, received, fees = res.paid_received_fees(b, HOUSES)
    assert int(paid.sum()) == int(received.sum()) + fees
    bought = np.zeros(len(b), dtype=np.int64)
    np.add.at(bought, m.buy, m.energy_wh)
    sold = np.zeros(len(b), dtype=np.int64)
    np.add.at(sold, m.sell, m.energy_wh)
    assert int(bought.sum()) == int(sold.sum()) == int(m.energy_wh.sum())


@props(200)
@given(
    books(),
    st.lists(st.integers(0, 2), min_size=HOUSES, max_size=HOUSES),
    st.sampled_from(sorted(MECHANISMS)),
    st.sampled_from(sorted(MECHANISMS)),
    st.tuples(st.integers(0, 50), st.integers(0, 50)),
)
def test_hierarchical_conserves_energy_and_money(
    b: OrderArrays, zones: list[int], m1: str, m2: str, fees: tuple[int, int]
) -> None:
    zone = np.array(zones, dtype=np.int64)
    res = clear_hierarchical(b, zone, GRID, get_mechanism(m1), get_mechanism(m2), fees)
    _check_conservation(b, res)
    m = res.matches
    lvl1 = res.level == 1
    # feeder markets trade only within a feeder; fees per level
    assert (zone[b.house[m.buy[lvl1]]] == zone[b.house[m.sell[lvl1]]]).all()
    for lv, fee in ((1, fees[0]), (2, fees[1])):
        sel = res.level == lv
        assert (res.fee_wei[sel] == m.energy_wh[sel] * fee // 1000).all()


@props(100)
@given(books(), st.sampled_from(sorted(MECHANISMS)))
def test_one_feeder_is_the_flat_market(b: OrderArrays, name: str) -> None:
    mech = get_mechanism(name)
    res = clear_hierarchical(b, np.zeros(HOUSES, dtype=np.int64), GRID, mech, mech)
    assert triples(res.matches) == triples(mech.clear(b, GRID).matches)


def test_unmatched_orders_pass_up() -> None:
    # feeder 0: houses 0 (sells 100) and 1 (buys 30); feeder 1: house 2 buys 50
    b = book([(0, "a", 100, 10), (1, "b", 30, 20), (2, "b", 50, 20)])
    zone = np.array([0, 0, 1])
    uni = get_mechanism("uniform")
    res = clear_hierarchical(b, zone, GRID, uni, uni, fees=(10, 40))
    rows = sorted(zip(res.level.tolist(), triples(res.matches), res.fee_wei.tolist(), strict=True))
    # the ask is not used up, so it sets the price: 10 at both levels
    assert rows == [(1, (1, 0, 30, 10), 0), (2, (2, 0, 50, 10), 2)]


@st.composite
def preferences(draw: st.DrawFn, b: OrderArrays) -> Preferences:
    n = len(b)
    kinds = draw(st.lists(st.sampled_from(list(Preference)), min_size=n, max_size=n))
    kind = np.array([k if bid else Preference.NONE for k, bid in zip(kinds, b.is_bid, strict=True)])
    partner = np.array(draw(st.lists(st.integers(0, HOUSES - 1), min_size=n, max_size=n)))
    partner = np.where(kind == Preference.PARTNER, partner, -1)
    premium = np.array(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)))
    zone = np.array(draw(st.lists(st.integers(0, 1), min_size=HOUSES, max_size=HOUSES)))
    green = np.array(draw(st.lists(st.booleans(), min_size=HOUSES, max_size=HOUSES)))
    return Preferences(
        kind.astype(np.int64), partner.astype(np.int64), premium.astype(np.int64), zone, green
    )


@props(300)
@given(st.data(), books(), st.sampled_from(sorted(MECHANISMS)))
def test_preferences_conserve_and_respect_the_rule(
    data: st.DataObject, b: OrderArrays, name: str
) -> None:
    p = data.draw(preferences(b))
    res = clear_with_preferences(get_mechanism(name), b, p, GRID)
    _check_conservation(b, res)
    assert res.fee_wei.sum() == 0
    m = res.matches
    pref = res.level == 1
    buy, sell = m.buy[pref], m.sell[pref]
    kind = p.kind[buy]
    assert (kind != Preference.NONE).all()
    sh, bh = b.house[sell], b.house[buy]
    assert (sh != bh).all()
    assert (sh[kind == Preference.PARTNER] == p.partner[buy][kind == Preference.PARTNER]).all()
    loc = kind == Preference.LOCAL
    assert (p.zone[sh[loc]] == p.zone[bh[loc]]).all()
    assert p.green[sh[kind == Preference.GREEN]].all()
    # price: the ask's price plus the bid's premium; the ask within the bid's limit
    assert (m.price[pref] == b.price[sell] + p.premium[buy]).all()
    assert (b.price[sell] <= b.price[buy]).all()


@props(100)
@given(books(), st.sampled_from(sorted(MECHANISMS)))
def test_no_preferences_is_the_plain_mechanism(b: OrderArrays, name: str) -> None:
    mech = get_mechanism(name)
    res = clear_with_preferences(mech, b, Preferences.none(len(b), HOUSES), GRID)
    assert triples(res.matches) == triples(mech.clear(b, GRID).matches)


def test_priority_rule_partner_before_local_before_green() -> None:
    # one green ask of house 0 (zone 0), 40 Wh at 10; three bids want it
    b = book(
        [
            (0, "a", 40, 10),
            (1, "b", 30, 20),  # green, earliest
            (2, "b", 30, 20),  # local
            (3, "b", 30, 20),  # partner of house 0, latest
        ]
    )
    p = Preferences(
        kind=np.array([Preference.NONE, Preference.GREEN, Preference.LOCAL, Preference.PARTNER]),
        partner=np.array([-1, -1, -1, 0]),
        premium=np.array([0, 1, 2, 5]),
        zone=np.array([0, 1, 0, 1]),
        green=np.array([True, False, False, False]),
    )
    res = clear_preferred(b, p)
    assert triples(res.matches) == [(3, 0, 30, 15), (2, 0, 10, 12)]
    with pytest.raises(ValueError, match="one preference entry"):
        clear_with_preferences(get_mechanism("uniform"), b, Preferences.none(2, 4), GRID)


@props(200)
@given(
    st.data(),
    books(),
    st.lists(st.integers(0, 2), min_size=HOUSES, max_size=HOUSES),
    st.sampled_from(sorted(MECHANISMS)),
    st.booleans(),
    st.tuples(st.integers(0, 50), st.integers(0, 50)),
)
def test_structured_conserves_energy_and_money(
    data: st.DataObject,
    b: OrderArrays,
    zones: list[int],
    name: str,
    hierarchical: bool,
    fees: tuple[int, int],
) -> None:
    p = data.draw(preferences(b))
    zone = np.array(zones, dtype=np.int64)
    p = Preferences(p.kind, p.partner, p.premium, zone, p.green)
    s = Structure(zone, hierarchical, *fees)
    res = clear_structured(get_mechanism(name), b, GRID, s, p)
    _check_conservation(b, res)
    m = res.matches
    same = zone[b.house[m.buy]] == zone[b.house[m.sell]]
    rate = np.where(res.level == 2, fees[1], fees[0])
    rate = np.where((res.level == 0) & ~same, fees[1], rate)
    assert (res.fee_wei == m.energy_wh * rate // 1000).all()
    assert hierarchical or not (res.level == 1).any()
    # without preferences and hierarchy: the plain mechanism
    flat = clear_structured(get_mechanism(name), b, GRID, Structure(zone, False))
    assert triples(flat.matches) == triples(get_mechanism(name).clear(b, GRID).matches)


@props(100)
@given(
    st.data(),
    books(),
    st.lists(st.integers(0, 2), min_size=HOUSES, max_size=HOUSES),
    st.sampled_from(sorted(MECHANISMS)),
    st.booleans(),
    st.lists(st.integers(0, 60), min_size=9, max_size=9),
)
def test_zone_fee_matrix_charges_each_pair_and_conserves(
    data: st.DataObject,
    b: OrderArrays,
    zones: list[int],
    name: str,
    hierarchical: bool,
    fees: list[int],
) -> None:
    p = data.draw(preferences(b))
    zone = np.array(zones, dtype=np.int64)
    p = Preferences(p.kind, p.partner, p.premium, zone, p.green)
    matrix = np.array(fees, dtype=np.int64).reshape(3, 3)
    s = Structure(zone, hierarchical, fee_matrix=matrix)
    res = clear_structured(get_mechanism(name), b, GRID, s, p)
    _check_conservation(b, res)  # paid == received + fees, energy within the orders
    m = res.matches
    rate = matrix[zone[b.house[m.sell]], zone[b.house[m.buy]]]
    assert (res.fee_wei == m.energy_wh * rate // 1000).all()
    # the matrix changes fees only: the same matches as without fees
    plain = clear_structured(get_mechanism(name), b, GRID, Structure(zone, hierarchical), p)
    assert triples(res.matches) == triples(plain.matches)


def test_zone_fee_matrix_is_checked() -> None:
    zone = np.array([0, 1, 2], dtype=np.int64)
    with pytest.raises(ValueError, match="square"):
        Structure(zone, fee_matrix=np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=">= 0"):
        Structure(zone, fee_matrix=-np.ones((3, 3), dtype=np.int64))
