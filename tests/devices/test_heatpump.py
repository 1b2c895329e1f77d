"""Heat pump + tank: energy balance per slot, COP range, limits."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gridpeer.devices.heatpump import (
    HeatPumps,
    heat_demand_w,
    performance,
    run_thermostat,
    tank_capacity_wh,
)
from gridpeer.devices.weather import WeatherModel

EPS = 1e-6


@st.composite
def pumps(draw: st.DrawFn) -> HeatPumps:
    n = draw(st.integers(1, 5))
    return HeatPumps(
        rated_heat_w=draw(arrays(np.float64, n, elements=st.sampled_from([0.0, 4e3, 9e3]))),
        ua_w_per_k=draw(arrays(np.float64, n, elements=st.floats(50.0, 400.0))),
        tank_wh=draw(arrays(np.float64, n, elements=st.sampled_from([0.0, 3e3, 7e3, 14e3]))),
        loss_per_h=draw(arrays(np.float64, n, elements=st.floats(0.0, 0.05))),
    )


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    hp=pumps(),
    t_out=arrays(np.float64, 96, elements=st.floats(-20.0, 30.0)),
    fill=st.floats(0.0, 1.0),
)
def test_tank_energy_balance_and_limits(hp: HeatPumps, t_out: np.ndarray, fill: float) -> None:
    e0 = fill * hp.tank_wh
    r = run_thermostat(hp, t_out, e0)
    _cop, pth = performance(t_out)
    e_prev = e0
    for t in range(96):
        e = r.tank[:, t] * hp.tank_wh
        expected = (
            e_prev * (1 - hp.loss_per_h * 0.25)
            + (r.heat_w[:, t] - r.demand_w[:, t] + r.unmet_w[:, t]) * 0.25
        )
        np.testing.assert_allclose(e, expected, atol=1e-6)
        assert (r.heat_w[:, t] <= hp.rated_heat_w * pth[t] + EPS).all()
        e_prev = e
    assert (r.tank >= -EPS).all() and (r.tank <= 1 + EPS).all()
    assert (r.unmet_w >= -EPS).all() and (r.unmet_w <= r.demand_w + EPS).all()
    np.testing.assert_allclose(r.electric_w * r.cop, r.heat_w, atol=1e-6)
    assert (r.electric_w[hp.rated_heat_w == 0] == 0).all()


def test_cop_range_and_trend() -> None:
    t = np.linspace(-20, 35, 56)
    cop, pth = performance(t)
    assert (cop >= 1.0).all() and (cop <= 8.0).all()
    assert (np.diff(cop) > 0).all()  # warmer air, better COP
    assert 2.5 < float(performance(np.array([-7.0]))[0][0]) < 3.5
    assert (pth > 0).all()


def test_demand_from_outdoor_temperature() -> None:
    hp = HeatPumps(np.array([8e3]), np.array([200.0]), np.array([7e3]), np.array([0.01]))
    d = heat_demand_w(hp, np.array([[-5.0, 15.0, 25.0]]))
    np.testing.assert_allclose(d, [[4000.0, 0.0, 0.0]])
    assert abs(tank_capacity_wh(300) - 6977.0) < 1.0


def test_thermostat_covers_a_winter_day_when_sized() -> None:
    w = WeatherModel(date(2025, 1, 1), seed=1, latitude=50.0)
    hp = HeatPumps(np.array([9e3]), np.array([150.0]), np.array([7e3]), np.array([0.01]))
    r = run_thermostat(hp, w.temperature_c(date(2025, 1, 10)), np.array([3.5e3]))
    assert r.unmet_w.sum() == 0.0 and r.electric_w.sum() > 0


def test_weather_reproducible_and_plausible() -> None:
    start = date(2025, 1, 1)
    a, b, c = WeatherModel(start, 3), WeatherModel(start, 3), WeatherModel(start, 4)
    days = [start + timedelta(days=k) for k in range(0, 365, 7)]
    ta = np.array([a.temperature_c(d) for d in days])
    np.testing.assert_array_equal(ta, np.array([b.temperature_c(d) for d in days]))
    assert not np.array_equal(ta, np.array([c.temperature_c(d) for d in days]))
    assert ta[:6].mean() < ta[24:32].mean()  # northern winter colder than summer
    assert abs(ta.mean() - 11.0) < 2.0
    south = WeatherModel(start, 3, latitude=-33.0)
    assert (
        south.temperature_c(date(2025, 1, 15)).mean()
        > south.temperature_c(date(2025, 7, 15)).mean()
    )
