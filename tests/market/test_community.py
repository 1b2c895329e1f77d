"""Community pricing schemes: mid-market rate, bill sharing, supply-demand ratio."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.market.clearing import GridPrices
from gridpeer.market.community import (
    BillSharing,
    MidMarketRate,
    SupplyDemandRatio,
    pro_rata,
    sdr_price,
)
from gridpeer.market.orders import OrderArrays
from gridpeer.market.settlement import settle_slot
from tests.market.books import book, books, props, triples

GRID = GridPrices(200, 50)


def test_mmr_short_supply_sellers_sell_all_buyers_pro_rata() -> None:
    # supply 6 Wh, demand 4 + 8 = 12 Wh: buyers get 2 and 4
    b = book([(0, "a", 6, 999), (1, "b", 4, 0), (2, "b", 8, 0)])
    c = MidMarketRate().clear(b, GRID)
    assert c.clearing_price == 125  # (200 + 50) // 2; limits are ignored
    assert triples(c.matches) == [(1, 0, 2, 125), (2, 0, 4, 125)]
    bills = settle_slot(b, c, GRID, 3)
    assert bills.grid_import_wh.tolist() == [0, 2, 4]


def test_mmr_surplus_sellers_pro_rata_rest_fed_in() -> None:
    b = book([(0, "a", 3, 0), (1, "a", 6, 0), (2, "b", 6, 0)])
    c = MidMarketRate().clear(b, GRID)
    assert triples(c.matches) == [(2, 0, 2, 125), (2, 1, 4, 125)]
    assert settle_slot(b, c, GRID, 3).grid_export_wh.tolist() == [1, 2, 0]


def test_bill_sharing_prices_pooled_energy_at_zero() -> None:
    b = book([(0, "a", 1000, 0), (1, "b", 1500, 0), (2, "b", 500, 0)])
    c = BillSharing().clear(b, GRID)
    assert c.clearing_price == 0 and c.volume_wh == 1000
    bills = settle_slot(b, c, GRID, 3)
    # import cost 1000 Wh * 200 wei/kWh shared by demand 3:1
    assert bills.net_cost_wei.tolist() == [0, 150, 50]


def test_sdr_price_formula_and_bounds() -> None:
    assert sdr_price(0, 100, GRID) == 200  # no supply: import price
    assert sdr_price(100, 100, GRID) == 50  # balanced: feed-in
    assert sdr_price(300, 100, GRID) == 50
    assert sdr_price(50, 100, GRID) == 50 * 200 * 100 // (150 * 50 + 50 * 100)  # 80
    assert sdr_price(5, 0, GRID) == 50


@given(st.integers(0, 10**6), st.integers(1, 10**6), st.integers(0, 10**4), st.integers(0, 10**4))
@props(200)
def test_sdr_price_stays_between_feed_in_and_import(g: int, d: int, a: int, b: int) -> None:
    grid = GridPrices(max(a, b), min(a, b))
    assert grid.feed_in_wei_per_kwh <= sdr_price(g, d, grid) <= grid.import_wei_per_kwh


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=40), st.data())
@props(200)
def test_pro_rata_is_exact_and_within_one_wh(weights: list[int], data: st.DataObject) -> None:
    w = np.array(weights, dtype=np.int64)
    total = data.draw(st.integers(0, int(w.sum())))
    share = pro_rata(w, total)
    assert int(share.sum()) == total
    for wi, si in zip(weights, share.tolist(), strict=True):
        exact = Fraction(wi * total, int(w.sum()))
        assert exact - 1 < si < exact + 1 and 0 <= si <= wi


def test_pro_rata_ties_go_to_the_earlier_order() -> None:
    assert pro_rata(np.array([1, 1, 1], dtype=np.int64), 2).tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="cannot allocate"):
        pro_rata(np.array([1], dtype=np.int64), 2)


@given(books(), st.sampled_from([MidMarketRate(), BillSharing(), SupplyDemandRatio()]))
@props(150)
def test_schemes_trade_the_short_side_in_full(b: OrderArrays, mech: object) -> None:
    c = mech.clear(b, GRID)  # type: ignore[attr-defined]
    demand = int(b.energy_wh[b.is_bid].sum())
    supply = int(b.energy_wh[~b.is_bid].sum())
    assert c.volume_wh == min(demand, supply)
    if c.volume_wh:
        assert GRID.feed_in_wei_per_kwh <= c.clearing_price <= GRID.import_wei_per_kwh or (
            c.clearing_price == 0 and isinstance(mech, BillSharing)
        )
