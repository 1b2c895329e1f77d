"""KPIs per house and per community."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gridpeer.market.auction import UniformPrice
from gridpeer.market.clearing import GridPrices
from gridpeer.market.kpi import KpiAccumulator, gini
from gridpeer.market.settlement import SlotBills, settle_slot
from tests.market.books import book

GRID = GridPrices(200_000, 50_000)


def test_gini() -> None:
    assert gini(np.array([5, 5, 5])) == 0.0
    assert gini(np.array([0, 0, 0])) == 0.0
    assert gini(np.array([0, 0, 0, 12])) == pytest.approx(0.75)  # (n-1)/n for one winner
    assert gini(np.array([1, 3])) == pytest.approx(0.25)


def test_two_slot_community() -> None:
    acc = KpiAccumulator(3, slot_s=900)
    # slot 1: h0 sells 1000 Wh to h1 (600) and h2 (400 of 800)
    b1 = book([(0, "a", 1000, 60_000), (1, "b", 600, 150_000), (2, "b", 800, 100_000)])
    acc.add(
        settle_slot(b1, UniformPrice().clear(b1, GRID), GRID, 3),
        load_wh=np.array([200, 600, 800]),
        pv_wh=np.array([1200, 0, 0]),
    )
    # slot 2: nothing crosses, all from the grid
    b2 = book([(1, "b", 300, 10), (0, "a", 100, 90_000)])
    acc.add(
        settle_slot(b2, UniformPrice().clear(b2, GRID), GRID, 3),
        load_wh=np.array([0, 300, 0]),
        pv_wh=np.array([100, 0, 0]),
    )
    h = acc.houses()
    assert h.p2p_bought_wh.tolist() == [0, 600, 400]
    assert h.grid_import_wh.tolist() == [0, 300, 400]
    assert h.bill_wei.tolist() == [-100_000 - 5_000, 60_000 + 60_000, 40_000 + 80_000]
    assert h.savings_wei.tolist() == [50_000, 60_000, 40_000]
    assert h.self_sufficiency.tolist() == [1.0, 1 - 300 / 900, 0.5]
    c = acc.community()
    assert c.slots == 2
    assert c.savings_wei == 150_000
    assert c.prosumer_income_wei == 105_000
    assert c.p2p_share == 1000 / 1700
    assert c.self_sufficiency == 1 - 700 / 1900
    assert c.self_consumption == 1 - 100 / 1300
    assert c.social_welfare_wei == (600 * 90_000 + 400 * 40_000) // 1000
    assert c.peak_import_wh == 400 and c.peak_import_w == 1600.0
    assert c.gini_savings == pytest.approx(gini(np.array([50_000, 60_000, 40_000])))


def test_without_load_data_ratios_are_nan() -> None:
    acc = KpiAccumulator(1)
    b = book([(0, "b", 10, 1)])
    acc.add(settle_slot(b, UniformPrice().clear(b, GRID), GRID, 1))
    assert math.isnan(acc.community().self_sufficiency)
    assert math.isnan(float(acc.houses().self_consumption[0]))
    with pytest.raises(ValueError, match="houses"):
        KpiAccumulator(2).add(settle_slot(b, UniformPrice().clear(b, GRID), GRID, 1))


def test_money_totals_stay_exact_beyond_int64() -> None:
    z = np.zeros(2, dtype=np.int64)
    big = np.array([10**18, -(10**18) + 7], dtype=np.int64)
    bills = SlotBills(z, z, z, z, big, z, z, z, z, z, welfare_wei=10**18)
    acc = KpiAccumulator(2)
    for _ in range(20):
        acc.add(bills)
    h = acc.houses()
    assert h.bill_wei.tolist() == [20 * 10**18, 20 * (-(10**18) + 7)]
    assert acc.community().bill_wei == 140
    assert acc.community().social_welfare_wei == 20 * 10**18
