"""Property-based invariants of every mechanism on random books."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.market.auction import PayAsBid, UniformPrice
from gridpeer.market.clearing import Clearing, GridPrices
from gridpeer.market.mechanisms import MECHANISMS, get_mechanism
from gridpeer.market.orders import OrderArrays
from gridpeer.market.settlement import settle_slot
from gridpeer.market.tariff import Fee, Payer
from tests.market.books import books, props

GRID = GridPrices(25, 4)
LIMIT_RESPECTING = ("order_book", "uniform", "pay_as_bid", "cda")


def _check_common(b: OrderArrays, c: Clearing) -> None:
    m = c.matches
    n = len(b)
    assert np.all(m.energy_wh > 0)
    assert np.all(b.is_bid[m.buy]) and not np.any(b.is_bid[m.sell])
    bought, sold = c.bought_wh(n), c.sold_wh(n)
    assert np.all(bought <= np.where(b.is_bid, b.energy_wh, 0))
    assert np.all(sold <= np.where(b.is_bid, 0, b.energy_wh))
    # energy bought == energy sold == reported volume
    assert int(bought.sum()) == int(sold.sum()) == c.volume_wh == int(m.energy_wh.sum())


@props(150)
@given(books(), st.sampled_from(sorted(MECHANISMS)))
def test_every_mechanism_conserves_energy(b: OrderArrays, name: str) -> None:
    _check_common(b, get_mechanism(name).clear(b, GRID))


@props(150)
@given(books(), st.sampled_from(LIMIT_RESPECTING))
def test_no_match_violates_a_limit_price(b: OrderArrays, name: str) -> None:
    m = get_mechanism(name).clear(b, GRID).matches
    assert np.all(m.price <= b.price[m.buy])
    assert np.all(m.price >= b.price[m.sell])


def _max_uniform_volume(b: OrderArrays) -> int:
    best = 0
    for p in set(b.price.tolist()):
        demand = int(b.energy_wh[b.is_bid & (b.price >= p)].sum())
        supply = int(b.energy_wh[~b.is_bid & (b.price <= p)].sum())
        best = max(best, min(demand, supply))
    return best


@props(200)
@given(books(), st.integers(0, 4))
def test_uniform_price_is_a_competitive_equilibrium(b: OrderArrays, k: int) -> None:
    c = UniformPrice(k, 4).clear(b, GRID)
    assert c.volume_wh == _max_uniform_volume(b)  # pay-as-clear volume is the maximum
    if c.volume_wh == 0:
        assert c.clearing_price is None
        return
    assert c.price_interval is not None and c.clearing_price is not None
    low, high = c.price_interval
    p = c.clearing_price
    assert low <= p <= high
    n = len(b)
    filled = c.bought_wh(n) + c.sold_wh(n)
    full = filled == b.energy_wh
    # strictly in-the-money orders are filled completely, out-of-the-money not at all
    assert np.all(full[b.is_bid & (b.price > high)])
    assert np.all(full[~b.is_bid & (b.price < low)])
    assert np.all(filled[b.is_bid & (b.price < low)] == 0)
    assert np.all(filled[~b.is_bid & (b.price > high)] == 0)
    assert np.all(c.matches.price == p)


@props(100)
@given(books())
def test_pay_as_bid_has_the_uniform_allocation(b: OrderArrays) -> None:
    u, d = UniformPrice().clear(b, GRID), PayAsBid().clear(b, GRID)
    n = len(b)
    assert np.array_equal(u.bought_wh(n), d.bought_wh(n))
    assert np.array_equal(u.sold_wh(n), d.sold_wh(n))


@props(150)
@given(books(), st.sampled_from(["cda", "order_book"]))
def test_continuous_markets_leave_no_crossing_between_houses(b: OrderArrays, name: str) -> None:
    c = get_mechanism(name).clear(b, GRID)
    left = b.energy_wh - c.bought_wh(len(b)) - c.sold_wh(len(b))
    bids = [i for i in range(len(b)) if b.is_bid[i] and left[i] > 0]
    asks = [i for i in range(len(b)) if not b.is_bid[i] and left[i] > 0]
    for i in bids:
        for j in asks:
            if b.house[i] != b.house[j]:
                assert b.price[i] < b.price[j]
    # and a house never trades with itself
    assert not np.any(b.house[c.matches.buy] == b.house[c.matches.sell])


@props(150)
@given(
    books(),
    st.sampled_from(sorted(MECHANISMS)),
    st.integers(0, 7),
    st.sampled_from(list(Payer)),
)
def test_money_paid_equals_money_received_plus_fees(
    b: OrderArrays, name: str, fee: int, payer: Payer
) -> None:
    c = get_mechanism(name).clear(b, GRID)
    bills = settle_slot(b, c, GRID, 6, fees=[Fee("network", fee, payer)])
    assert int(bills.p2p_paid_wei.sum()) == int(bills.p2p_received_wei.sum())
    assert int(bills.net_cost_wei.sum()) == bills.grid_net_income_wei + bills.operator_fees_wei
    # energy balance per house: bid Wh = P2P bought + imported; ask Wh = sold + exported
    bid_wh = np.bincount(b.house, np.where(b.is_bid, b.energy_wh, 0), 6).astype(np.int64)
    assert np.array_equal(bills.p2p_bought_wh + bills.grid_import_wh, bid_wh)
    ask_wh = np.bincount(b.house, np.where(b.is_bid, 0, b.energy_wh), 6).astype(np.int64)
    assert np.array_equal(bills.p2p_sold_wh + bills.grid_export_wh, ask_wh)
