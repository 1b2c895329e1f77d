"""Small wind and micro-hydro: power curves, limits, seeded resource models."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gridpeer.devices.hydro import RHO, G, RiverFlow, hydro_power_w, turbine_efficiency
from gridpeer.devices.weather import WeatherModel
from gridpeer.devices.wind import cut_in_out_ms, power_curve, wind_power_w


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    wind=arrays(np.float64, 96, elements=st.floats(0.0, 40.0)),
    rated=arrays(np.float64, st.integers(1, 4), elements=st.floats(0.0, 50_000.0)),
)
def test_wind_power_limits(wind: np.ndarray, rated: np.ndarray) -> None:
    p = wind_power_w(wind, rated)
    cut_in, cut_out = cut_in_out_ms()
    assert (p >= 0).all() and (p <= rated[:, None] + 1e-9).all()
    assert (p[:, (wind < cut_in) | (wind > cut_out)] == 0).all()


def test_wind_curve_shape() -> None:
    _v, p = power_curve()
    cut_in, cut_out = cut_in_out_ms()
    assert 1.0 <= cut_in <= 4.0 and cut_out == 25.0
    assert p.max() == 1.0 and (np.diff(p) >= 0).all()
    np.testing.assert_allclose(wind_power_w(np.array([15.0]), np.array([10_000.0])), [[10_000.0]])


def test_wind_model_weibull_and_seed() -> None:
    start = date(2025, 1, 1)
    w = WeatherModel(start, 5)
    v = np.concatenate([w.wind_ms(start + timedelta(days=k)) for k in range(200)])
    assert abs(v.mean() - 6.0 * 0.886) < 0.6  # Weibull(k=2, c=6) mean = c·Γ(1.5)
    np.testing.assert_array_equal(WeatherModel(start, 5).wind_ms(start), w.wind_ms(start))
    assert w.wind_ms(start, height_m=30.0).mean() > w.wind_ms(start).mean()


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    flow=arrays(np.float64, 96, elements=st.floats(0.0, 2.0)),
    head=st.floats(1.0, 100.0),
    design=st.floats(0.01, 1.0),
)
def test_hydro_power_limits(flow: np.ndarray, head: float, design: float) -> None:
    p = hydro_power_w(flow, np.array([head]), np.array([design]))
    peak = RHO * G * head * design * 0.80 * 0.9
    assert (p >= 0).all() and (p <= peak + 1e-6).all()
    assert (p[0, flow < 0.1 * design] == 0).all()  # below minimum part load


def test_hydro_efficiency_curve_and_flow_model() -> None:
    assert turbine_efficiency(np.array([0.05]))[0] == 0.0
    assert turbine_efficiency(np.array([0.8]))[0] == 0.80
    p = hydro_power_w(np.array([0.2]), np.array([10.0]), np.array([0.1]))  # capped at design
    np.testing.assert_allclose(p, [[RHO * G * 10 * 0.1 * 0.78 * 0.9]])
    start = date(2025, 1, 1)
    r = RiverFlow(start, 2)
    q = np.array([r.day(start + timedelta(days=k))[0] for k in range(365)])
    assert (q > 0).all() and 0.03 < q.mean() < 0.07
    np.testing.assert_array_equal(RiverFlow(start, 2).day(start), r.day(start))
