"""A battery and a car run by set points: limits, balance per step, the car only at home,
the rule-based charging without set points, and readings that never change once their
slot has started."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.devices.battery import BatterySpec, one_way_efficiency
from gridpeer.devices.ev import EvSpec
from gridpeer.devices.house import HouseConfig, house_seed, simulate_house, thesis_lab_houses
from gridpeer.devices.scheduled import SLOT_S, ScheduledBattery, ScheduledHouse
from gridpeer.devices.trace import DailyTraces, HouseTrace
from gridpeer.profiles.load import LoadBank, richardson_bank

DAY0 = date(2025, 1, 6)
T0 = int(datetime(2025, 1, 6, tzinfo=UTC).timestamp())
STEP = 300
SPEC = BatterySpec(5_000.0, 2_500.0, 2_000.0, soc_min=0.1, soc_max=0.95, soc_initial=0.5)


def _bare(day: date, soc0: float | None) -> HouseTrace:
    """A house without a battery: PV by day, a load with a seeded wiggle (W)."""
    n = 86_400 // STEP
    t = np.arange(n) * STEP / 3600.0
    rng = np.random.default_rng(day.toordinal())
    pv = np.clip(3000.0 * np.sin(np.pi * (t - 6) / 12), 0, None)
    load = 400.0 + 300.0 * rng.random(n)
    z = np.zeros(n)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return HouseTrace("h1", start, STEP, load, pv, z + 300, pv / 300, z, z, z, load - pv, z + 230)


def _house() -> ScheduledBattery:
    return ScheduledBattery(DailyTraces("h1", DAY0, _bare, STEP), SPEC)


def _check_physics(tr: HouseTrace, soc0: float) -> None:
    b = SPEC
    assert np.all(tr.soc >= b.soc_min - 1e-9) and np.all(tr.soc <= b.soc_max + 1e-9)
    assert np.all(tr.bess_w <= b.max_discharge_w + 1e-9)
    assert np.all(-tr.bess_w <= b.max_charge_w + 1e-9)
    np.testing.assert_allclose(tr.load_w, tr.pv_w + tr.bess_w + tr.grid_w)  # W balance
    eta = float(one_way_efficiency(b.round_trip_efficiency))
    h = STEP / 3600.0
    e = np.concatenate(([soc0], tr.soc)) * b.capacity_wh
    flow = np.where(tr.bess_w > 0, -tr.bess_w * h / eta, -tr.bess_w * h * eta)
    np.testing.assert_allclose(np.diff(e), flow, atol=1e-6)  # Wh stored per step


@settings(max_examples=40, deadline=None)
@given(points=st.lists(st.floats(-4_000.0, 4_000.0), min_size=96, max_size=96))
def test_set_points_within_limits_and_balanced(points: list[float]) -> None:
    house = _house()
    house.set_points({T0 + SLOT_S * i: w for i, w in enumerate(points)}, T0)
    day = house.period(0)
    _check_physics(day, SPEC.soc_initial)
    # a set point the battery can follow is followed exactly
    per_slot = SLOT_S // STEP
    for i, w in enumerate(points):
        got = day.bess_w[i * per_slot : (i + 1) * per_slot]
        limit = SPEC.max_discharge_w if w > 0 else SPEC.max_charge_w
        if abs(w) <= limit and 0.15 < day.soc[(i + 1) * per_slot - 1] < 0.9:
            np.testing.assert_allclose(got, w)
    # the next day starts where this one ended
    _check_physics(house.period(1), float(day.soc[-1]))


def test_without_set_points_it_is_self_consumption() -> None:
    day = _house().period(0)
    _check_physics(day, SPEC.soc_initial)
    net = day.load_w - day.pv_w
    free = (day.soc > 0.11) & (day.soc < 0.94)
    ok = free & (np.abs(net) < 2_000.0)
    np.testing.assert_allclose(day.bess_w[ok], net[ok])


def test_past_readings_never_change_and_only_future_slots_are_set() -> None:
    house = _house()
    now = T0 + 10 * 3600 + 120  # 10:02, inside slot 40
    before = house.span(T0, now)
    house.set_points({T0 + SLOT_S * i: -1_000.0 for i in range(30, 60)}, now)
    after = house.span(T0, now)
    np.testing.assert_array_equal(before.bess_w, after.bess_w)
    np.testing.assert_array_equal(before.soc, after.soc)
    assert house.point(T0 + 40 * SLOT_S) is None  # started: not changed
    assert house.point(T0 + 41 * SLOT_S) == -1_000.0
    later = house.span(T0 + 41 * SLOT_S, T0 + 42 * SLOT_S)
    assert np.all(later.bess_w == -1_000.0) or later.soc[-1] >= SPEC.soc_max - 1e-9
    _check_physics(house.period(0), SPEC.soc_initial)


# ---------------------------------------------------------------- the car


def _ev_house(bank: LoadBank) -> tuple[HouseConfig, ScheduledHouse]:
    cfg = dataclasses.replace(
        thesis_lab_houses()[2], ev=EvSpec(capacity_wh=40_000.0, charger_w=7_400.0, soc_initial=0.3)
    )
    bare = dataclasses.replace(cfg, ev=None)

    def simulate(day: date, soc0: float | None) -> HouseTrace:
        return simulate_house(bare, day, seed=0, bank=bank)

    base = DailyTraces(cfg.house, DAY0, simulate, 60)
    return cfg, ScheduledHouse(base, None, cfg.ev, house_seed(0, cfg.house), cfg.site.utc_offset_h)


@pytest.fixture(scope="module")
def bank() -> LoadBank:
    return richardson_bank(households=3, days=7, seed=0)


def test_car_without_set_points_charges_like_the_simulated_house(bank: LoadBank) -> None:
    cfg, house = _ev_house(bank)
    day = house.period(0)
    alone = simulate_house(cfg, DAY0, seed=0, bank=bank)  # the rule: full power until full
    assert day.ev_w is not None and alone.ev_w is not None
    np.testing.assert_allclose(day.ev_w, alone.ev_w)
    np.testing.assert_allclose(day.load_w, alone.load_w)
    np.testing.assert_allclose(day.load_w, day.pv_w + day.bess_w + day.grid_w)


@settings(max_examples=25, deadline=None)
@given(points=st.lists(st.floats(-9_000.0, 9_000.0), min_size=96, max_size=96))
def test_car_set_points_within_limits_and_only_at_home(bank: LoadBank, points: list[float]) -> None:
    cfg, house = _ev_house(bank)
    assert cfg.ev is not None
    house.set_points({}, T0, ev={T0 + SLOT_S * i: w for i, w in enumerate(points)})
    day = house.period(0)
    assert day.ev_w is not None and day.ev_soc is not None
    sess = house.sessions(DAY0)
    slot_w = day.ev_w.reshape(96, 15)[:, 0]
    assert np.all(slot_w[~sess.home[0]] == 0.0)  # away: no charging
    assert np.all((slot_w >= 0.0) & (slot_w <= cfg.ev.charger_w + 1e-9))  # no V2G allowed
    assert np.all((day.ev_soc >= 0.0) & (day.ev_soc <= 1.0 + 1e-12))
    np.testing.assert_allclose(day.load_w, day.pv_w + day.bess_w + day.grid_w)
    # a feasible set point is followed exactly
    soc_end = day.ev_soc.reshape(96, 15)[:, 0]
    for t, w in enumerate(points):
        if sess.home[0, t] and 0.0 <= w <= cfg.ev.charger_w and soc_end[t] < 0.999:
            assert slot_w[t] == pytest.approx(w)
    # the meter counts the car: consumption before day 1 includes its charging
    car_wh = float(np.sum(day.ev_w)) / 60.0
    assert house.load_wh_before(1) == pytest.approx(house.base.load_wh_before(1) + car_wh)
