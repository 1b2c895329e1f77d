"""Slot bills, fees and the settlement of delivery deviations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.market.auction import UniformPrice
from gridpeer.market.clearing import GridPrices
from gridpeer.market.money import payment_wei, payments_wei
from gridpeer.market.settlement import (
    DeviationRule,
    FixedDeviationPrices,
    escrow_split,
    exact_sum,
    settle_delivery,
    settle_slot,
    sum_by,
)
from gridpeer.market.tariff import Fee, Payer
from tests.market.books import book, props

GRID = GridPrices(200_000, 50_000)


def test_payment_rounds_down_and_is_exact_for_huge_values() -> None:
    assert payment_wei(1, 999) == 0
    assert payment_wei(1500, 3) == 4  # 4.5 -> 4
    big = 10**24
    assert payment_wei(10**12, big) == 10**33
    e = np.array([10**9, 7], dtype=np.int64)
    p = np.array([10**18, 3], dtype=np.int64)
    assert payments_wei(e, p) == [10**24, 0]
    with pytest.raises(ValueError, match=">= 0"):
        payment_wei(-1, 5)


def test_slot_bills_worked_example_with_split_fee() -> None:
    # h0 sells 1000 Wh @ asks 60k; h1 buys 600 Wh, h2 buys 800 Wh @ bids 150k, 100k
    b = book([(0, "a", 1000, 60_000), (1, "b", 600, 150_000), (2, "b", 800, 100_000)])
    c = UniformPrice().clear(b, GRID)
    assert c.clearing_price == 100_000 and c.volume_wh == 1000
    bills = settle_slot(b, c, GRID, 3, fees=[Fee("network", 10_000, Payer.SPLIT)])
    assert bills.p2p_bought_wh.tolist() == [0, 600, 400]
    assert bills.grid_import_wh.tolist() == [0, 0, 400]
    assert bills.p2p_paid_wei.tolist() == [0, 60_000, 40_000]
    assert bills.p2p_received_wei.tolist() == [100_000, 0, 0]
    # fee 10k wei/kWh: 6000 and 4000 wei, split: buyer pays ceil half, seller floor half
    assert bills.fees_paid_wei.tolist() == [5000, 3000, 2000]
    assert bills.grid_paid_wei.tolist() == [0, 0, 80_000]
    assert bills.net_cost_wei.tolist() == [-95_000, 63_000, 122_000]
    assert bills.baseline_cost_wei.tolist() == [-50_000, 120_000, 160_000]
    assert bills.welfare_wei == (600 * 90_000 + 400 * 40_000) // 1000
    assert int(bills.net_cost_wei.sum()) == bills.grid_net_income_wei + bills.operator_fees_wei


@pytest.mark.parametrize(
    ("payer", "split"), [(Payer.BUYER, (7, 0)), (Payer.SELLER, (0, 7)), (Payer.SPLIT, (4, 3))]
)
def test_fee_payer(payer: Payer, split: tuple[int, int]) -> None:
    assert Fee("op", 7, payer).split_wei(1000) == split


def test_delivery_in_full_pays_the_contract() -> None:
    s = settle_delivery(1000, 1000, 120_000, GRID)
    assert s.net_wei("buyer") == 120_000 and s.net_wei("seller") == -120_000
    assert (s.shortfall_wh, s.excess_wh) == (0, 0)


def test_shortfall_grid_rule_makes_the_buyer_whole() -> None:
    s = settle_delivery(1000, 600, 120_000, GRID)
    assert s.shortfall_wh == 400
    assert s.net_wei("buyer") == 120_000  # 72k to seller + 80k to grid - 32k compensation
    assert s.net_wei("seller") == -72_000 + 32_000
    assert s.net_wei("grid") == -80_000
    none = settle_delivery(1000, 600, 120_000, GRID, DeviationRule.NONE)
    assert none.net_wei("buyer") == 72_000 + 80_000


def test_excess_paid_at_feed_in() -> None:
    s = settle_delivery(1000, 1200, 120_000, GRID)
    assert s.excess_wh == 200
    assert s.net_wei("seller") == -(120_000 + 10_000)
    assert settle_delivery(1000, 1200, 120_000, GRID, "none").net_wei("seller") == -120_000


def test_fixed_deviation_prices() -> None:
    rule = FixedDeviationPrices(shortfall_wei_per_kwh=500_000, excess_wei_per_kwh=1_000)
    s = settle_delivery(1000, 600, 120_000, GRID, rule)
    assert s.net_wei("seller") == -72_000 + 200_000  # pays 400 Wh * 500k wei/kWh
    x = settle_delivery(1000, 1500, 120_000, GRID, rule)
    assert x.net_wei("seller") == -120_000 - 500
    with pytest.raises(ValueError, match=">= 0"):
        FixedDeviationPrices(-1, 0)


def test_bad_delivery_input() -> None:
    with pytest.raises(ValueError, match="contracted > 0"):
        settle_delivery(0, 5, 1, GRID)
    with pytest.raises(ValueError, match="unknown deviation rule"):
        settle_delivery(5, 5, 1, GRID, "bogus")


@given(
    st.integers(1, 10**7),
    st.integers(0, 2 * 10**7),
    st.integers(0, 10**15),
    st.integers(0, 10**15),
    st.integers(0, 10**15),
    st.sampled_from(list(DeviationRule)),
)
@props(300)
def test_bills_always_add_up(c: int, d: int, p: int, a: int, b: int, rule: DeviationRule) -> None:
    grid = GridPrices(max(a, b), min(a, b))
    s = settle_delivery(c, d, p, grid, rule)
    assert s.net_wei("buyer") + s.net_wei("seller") + s.net_wei("grid") == 0
    assert all(t.wei > 0 for t in s.transfers)
    assert s.delivered_wh + s.shortfall_wh == c
    if rule is DeviationRule.GRID and d <= c and p <= grid.import_wei_per_kwh:
        # the buyer pays what it contracted, up to the floor of three roundings
        assert 0 <= payment_wei(c, p) - s.net_wei("buyer") + 2 <= 3
    paid, refund = escrow_split(c, d, p)
    assert paid + refund == payment_wei(c, p) and refund >= 0


@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(-(2**58), 2**58)), min_size=1, max_size=12)
)
@props(300)
def test_sum_by_is_exact(pairs: list[tuple[int, int]]) -> None:
    idx = np.array([p[0] for p in pairs], dtype=np.int64)
    val = np.array([p[1] for p in pairs], dtype=np.int64)
    want = [sum(v for i, v in pairs if i == k) for k in range(5)]
    assert sum_by(idx, val, 5).tolist() == want
    with pytest.raises(OverflowError):
        sum_by(np.zeros(40, dtype=np.int64), np.full(40, 2**58, dtype=np.int64), 1)


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=30))
@props(300)
def test_exact_sum(xs: list[int]) -> None:
    assert exact_sum(np.array(xs, dtype=np.int64)) == sum(xs)
