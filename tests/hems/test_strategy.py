"""Trading strategies: forecasts, battery reserve, fixed and ramping prices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.hems.strategy import (
    PriceStrategy,
    buyer_plan,
    clear_sky_forecast,
    house_order_price,
    house_order_wh,
    noisy_forecast,
    persistence_forecast,
    plan_price,
    ramp_price,
    reserve_soc,
    sellable_battery_wh,
    seller_plan,
    split_surplus_deficit,
)

prices = st.integers(min_value=0, max_value=10**12)


@given(fi=prices, gap=prices, p1=st.floats(0, 1), p2=st.floats(0, 1))
def test_ramping_prices_move_monotonically_toward_the_tariffs(
    fi: int, gap: int, p1: float, p2: float
) -> None:
    imp = fi + gap
    lo, hi = sorted((p1, p2))
    fis, imps = np.array([fi]), np.array([imp])
    sell = seller_plan(fis, imps, PriceStrategy.RAMPING)
    buy = buyer_plan(fis, imps, PriceStrategy.RAMPING)
    a_lo, a_hi = plan_price(sell, lo)[0], plan_price(sell, hi)[0]
    b_lo, b_hi = plan_price(buy, lo)[0], plan_price(buy, hi)[0]
    assert fi <= a_hi <= a_lo <= imp  # seller comes down toward feed-in
    assert fi <= b_lo <= b_hi <= imp  # buyer goes up toward import
    assert plan_price(sell, 1.0)[0] == fi
    assert plan_price(buy, 1.0)[0] == imp


def test_fixed_price_is_constant() -> None:
    assert ramp_price(100, 200, 0.0, PriceStrategy.FIXED)[()] == 100
    assert ramp_price(100, 200, 1.0, PriceStrategy.FIXED)[()] == 100
    assert ramp_price(100, 200, 0.5, PriceStrategy.RAMPING)[()] == 150
    with pytest.raises(ValueError, match="progress"):
        ramp_price(100, 200, 1.5, PriceStrategy.RAMPING)


@given(fi=prices, gap=prices, progress=st.floats(0, 1))
def test_scalar_api_matches_vectorized(fi: int, gap: int, progress: float) -> None:
    imp = fi + gap
    vec = plan_price(seller_plan(np.array([fi]), np.array([imp]), PriceStrategy.RAMPING), progress)
    assert house_order_price("sell", fi, imp, progress, "ramping") == int(vec[0])
    vec_b = plan_price(buyer_plan(np.array([fi]), np.array([imp]), PriceStrategy.FIXED), progress)
    assert house_order_price("buy", fi, imp, progress, "fixed") == int(vec_b[0])
    with pytest.raises(ValueError, match="side"):
        house_order_price("hold", fi, imp, progress)


def test_forecasts() -> None:
    prev = np.array([[1.0, 2.0], [3.0, 4.0]])
    f = persistence_forecast(prev)
    np.testing.assert_array_equal(f, prev)
    assert f is not prev
    net = clear_sky_forecast(np.array([1000.0, 0.0]), np.array([300.0, 200.0]), derate=0.5)
    np.testing.assert_array_equal(net, [200.0, -200.0])
    sell, buy = split_surplus_deficit(np.array([10.7, -3.2, 0.0]))
    np.testing.assert_array_equal(sell, [10, 0, 0])
    np.testing.assert_array_equal(buy, [0, 3, 0])
    with pytest.raises(ValueError):
        clear_sky_forecast(np.zeros(1), np.zeros(1), derate=1.5)


def test_reserve_and_sellable_battery() -> None:
    r = reserve_soc(np.array([12.0, 18.0, 23.5]), evening_reserve=0.4, floor=0.1)
    np.testing.assert_array_equal(r, [0.4, 0.1, 0.4])
    spare = sellable_battery_wh(np.array([0.9, 0.2]), np.array([10_000.0, 10_000.0]), r[:2], 1.0)
    np.testing.assert_allclose(spare, [5000.0, 1000.0])
    # default reserve 0.3 at noon, efficiency 0.95: (0.9 - 0.3) * 10 kWh * 0.95 = 5700 Wh spare
    assert house_order_wh(500.4, 0.9, 10_000.0, 12.0) == (500 + 5700, 0)
    assert house_order_wh(-250.0, 0.9, 10_000.0, 12.0) == (0, 250)
    with pytest.raises(ValueError):
        reserve_soc(12.0, evening_reserve=0.1, floor=0.2)


def test_noisy_forecast_is_seeded_unbiased_and_zero_where_actual_is() -> None:
    actual = np.tile(np.array([0.0, 100.0, 250.0, 0.0, 40.0]), (2000, 1))
    f = noisy_forecast(actual, 0.3, np.random.default_rng(1))
    g = noisy_forecast(actual, 0.3, np.random.default_rng(1))
    np.testing.assert_array_equal(f, g)
    assert (f[actual == 0] == 0).all() and (f >= 0).all()
    rel = f[:, 1] / 100.0 - 1.0
    assert abs(rel.mean()) < 0.02  # unbiased
    assert 0.27 < rel.std() < 0.34  # about ±31 % for sigma 0.3
    np.testing.assert_array_equal(noisy_forecast(actual, 0.0, np.random.default_rng(2)), actual)
    with pytest.raises(ValueError):
        noisy_forecast(actual, -0.1, np.random.default_rng(0))
