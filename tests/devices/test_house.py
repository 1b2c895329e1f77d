"""One simulated house and the thesis's 5-house lab."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.devices.balance import check_balance, flows_wh
from gridpeer.devices.battery import BatterySpec
from gridpeer.devices.house import HouseConfig, simulate_house, thesis_lab_houses
from gridpeer.devices.pv import PVArray
from gridpeer.devices.trace import HouseTrace
from gridpeer.profiles.load import LoadBank, richardson_bank
from gridpeer.profiles.site import VALPARAISO
from gridpeer.profiles.sky import DayClass, sky_day

DAY = date(2025, 1, 20)


def _clear_seed() -> int:
    """The first weather seed giving a clear day on DAY (deterministic)."""
    return next(s for s in range(100) if sky_day(VALPARAISO, DAY, s).day_class == DayClass.CLEAR)


CLEAR = _clear_seed()


@pytest.fixture(scope="module")
def bank() -> LoadBank:
    return richardson_bank(households=3, days=7, seed=0)


def _balance(trace: HouseTrace) -> None:
    check_balance(flows_wh(trace.load_w, trace.pv_w, trace.bess_w, trace.grid_w, trace.step_s))


@pytest.mark.parametrize("lab_scale", [False, True])
def test_lab_houses_fill_every_array_and_balance(bank: LoadBank, lab_scale: bool) -> None:
    houses = thesis_lab_houses(lab_scale=lab_scale)
    assert [h.house for h in houses] == ["h1", "h2", "h3", "h4", "h5"]
    assert [h.pv is not None for h in houses] == [True, True, True, False, False]
    assert [h.battery is not None for h in houses] == [True, True, False, False, False]
    for config in houses:
        trace = simulate_house(config, DAY, days=1, step_s=60, seed=CLEAR, bank=bank)
        assert len(trace) == 1440 and trace.start == datetime(2025, 1, 20, tzinfo=UTC)
        for name in (
            "load_w",
            "pv_w",
            "pv_v",
            "pv_i",
            "bess_w",
            "bess_v",
            "soc",
            "grid_w",
            "mains_v",
        ):
            values = getattr(trace, name)
            assert values.shape == (1440,) and np.all(np.isfinite(values)), name
        _balance(trace)
        assert np.all(trace.load_w > 0.0)
        assert np.all((trace.mains_v > 200.0) & (trace.mains_v < 240.0))
        if config.pv is None:
            assert np.all(trace.pv_w == 0.0) and np.all(trace.pv_v == 0.0)
        else:
            assert trace.pv_w.max() > 0.5 * config.pv.kwp * 1000.0 * config.pv.derate
            lit = trace.pv_w > 0.0
            np.testing.assert_allclose(trace.pv_v[lit] * trace.pv_i[lit], trace.pv_w[lit])
        if config.battery is None:
            assert np.all(trace.bess_w == 0.0) and np.all(trace.soc == 0.0)
        else:
            spec = config.battery
            assert np.all((trace.soc >= spec.soc_min - 1e-9) & (trace.soc <= spec.soc_max + 1e-9))
            assert np.all(trace.bess_v > 0.0)
            assert trace.bess_w.min() < 0.0  # charges from the summer noon surplus


def test_lab_panel_readings_look_like_the_thesis_panel(bank: LoadBank) -> None:
    config = thesis_lab_houses(lab_scale=True)[2]
    trace = simulate_house(config, DAY, step_s=60, seed=CLEAR, bank=bank)
    assert 5.0 < trace.pv_w.max() <= 10.5
    assert 14.0 < trace.pv_v.max() < 23.4
    assert 0.3 < trace.pv_i.max() < 0.65


def test_same_inputs_same_trace_and_houses_differ(bank: LoadBank) -> None:
    h4 = thesis_lab_houses()[3]
    a = simulate_house(h4, DAY, seed=1, bank=bank)
    again = simulate_house(h4, DAY, seed=1, bank=bank)
    np.testing.assert_array_equal(a.load_w, again.load_w)
    np.testing.assert_array_equal(a.mains_v, again.mains_v)
    twin = simulate_house(
        HouseConfig("h5", annual_load_kwh=h4.annual_load_kwh), DAY, seed=1, bank=bank
    )
    assert not np.array_equal(a.load_w, twin.load_w)
    assert not np.array_equal(a.load_w, simulate_house(h4, DAY, seed=2, bank=bank).load_w)


def test_multi_day_trace_carries_soc_over_midnight(bank: LoadBank) -> None:
    h1 = thesis_lab_houses()[0]
    two = simulate_house(h1, DAY, days=2, step_s=300, seed=7, bank=bank)
    assert len(two) == 2 * 288
    _balance(two)
    first = simulate_house(h1, DAY, days=1, step_s=300, seed=7, bank=bank)
    np.testing.assert_array_equal(two.soc[:288], first.soc)


@pytest.mark.parametrize("step_s", [10, 60, 900])
def test_step_lengths(bank: LoadBank, step_s: int) -> None:
    trace = simulate_house(thesis_lab_houses()[0], DAY, step_s=step_s, seed=2, bank=bank)
    assert len(trace) == 86_400 // step_s and trace.step_s == step_s
    _balance(trace)


def test_bad_inputs_are_rejected(bank: LoadBank) -> None:
    h1 = thesis_lab_houses()[0]
    with pytest.raises(ValueError, match="step_s"):
        simulate_house(h1, DAY, step_s=7, bank=bank)
    with pytest.raises(ValueError, match="midnight"):
        simulate_house(h1, datetime(2025, 1, 1, 12, tzinfo=UTC), bank=bank)
    with pytest.raises(ValueError, match="timezone"):
        simulate_house(h1, datetime(2025, 1, 1), bank=bank)
    with pytest.raises(ValueError, match="annual load"):
        HouseConfig("h9", annual_load_kwh=-1.0)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    kwp=st.one_of(st.none(), st.floats(0.5, 12.0)),
    capacity=st.one_of(st.none(), st.floats(500.0, 20_000.0)),
    annual=st.floats(500.0, 9_000.0),
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
    seed=st.integers(0, 10_000),
    step_s=st.sampled_from([300, 900, 3600]),
)
def test_any_house_balances_every_step(
    bank: LoadBank,
    kwp: float | None,
    capacity: float | None,
    annual: float,
    day: date,
    seed: int,
    step_s: int,
) -> None:
    config = HouseConfig(
        "hx",
        pv=PVArray(kwp) if kwp else None,
        battery=BatterySpec.home(capacity) if capacity and kwp else None,
        annual_load_kwh=annual,
    )
    trace = simulate_house(config, day, days=2, step_s=step_s, seed=seed, bank=bank)
    _balance(trace)
    assert np.all(trace.soc >= 0.0) and np.all(trace.soc <= 1.0)
    if config.battery is not None:
        limit = config.battery.max_discharge_w
        assert np.all(np.abs(trace.bess_w) <= limit + 1e-6)
