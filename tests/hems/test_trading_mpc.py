"""The live house's MPC agent: plans within limits and balanced, orders equal to its plan,
history read from the store with nothing from the future."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from gridpeer.devices.battery import BatterySpec
from gridpeer.devices.ev import EvSessions, EvSpec, draw_sessions
from gridpeer.hems.forecasting import SLOT_S
from gridpeer.hems.trading_agent import OwnerSettings, SlotView
from gridpeer.hems.trading_mpc import (
    LivePlan,
    MpcHouse,
    PlanInput,
    car_horizon,
    expected_prices,
    plan_house,
    plan_houses,
)
from gridpeer.market.clearing import GridPrices
from gridpeer.store.base import Sample, Store
from gridpeer.store.factory import open_store

DAY0 = 1_736_121_600  # 2025-01-06 00:00 UTC
SPEC = BatterySpec(5_000.0, 2_500.0, 2_500.0, soc_min=0.1, soc_max=0.95)
PRICES = GridPrices(180 * 10**12, 60 * 10**12)


def _profile(k: int) -> tuple[float, float]:
    """PV and load of slot ``k``, W (a sunny noon, a flat load)."""
    s = k % 96
    return max(0.0, 3000.0 * np.sin(np.pi * (s - 28) / 48)), 500.0


def _view(progress: float = 0.0) -> SlotView:
    return SlotView(0.0, 0.0, 0.0, 0.5, 5000.0, 12.0, 60 * 10**12, 180 * 10**12, progress)


def test_plan_stores_surplus_for_the_evening_within_limits() -> None:
    pv = np.array([_profile(k)[0] for k in range(40, 96)]) * 0.25
    load = np.full(56, 500.0 * 0.25)
    plan = plan_house(DAY0 + 40 * SLOT_S, pv, load, SPEC, 0.1, PRICES)
    # balance per slot: pv − load + battery = exports − imports (Wh)
    np.testing.assert_allclose(pv - load + plan.bess_w * 0.25, plan.exp_wh - plan.imp_wh, atol=1e-6)
    assert np.all(plan.soc >= SPEC.soc_min - 1e-9) and np.all(plan.soc <= SPEC.soc_max + 1e-9)
    assert np.all(np.abs(plan.bess_w) <= 2_500.0 + 1e-6)
    assert plan.soc.max() > 0.5  # it charged from the noon surplus ...
    night = slice(40, 56)  # 20:00-24:00: no PV, the battery covers the load
    assert plan.imp_wh[night].sum() < load[night].sum() * 0.5
    # without a battery the plan is the forecast net
    bare = plan_house(DAY0, pv, load, None, 0.0, PRICES)
    np.testing.assert_allclose(bare.exp_wh - bare.imp_wh, pv - load)


def _store_with_history(tmp_path: Path, slots: int, future: float = 0.0) -> Store:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    rows = []
    for k in range(slots + 8):  # readings every 5 min; the last 8 slots are the future
        pv, load = _profile(k)
        if k >= slots:
            pv, load = pv + future, load + future
        for m in range(3):
            ts = datetime.fromtimestamp(DAY0 + k * SLOT_S + m * 300, UTC)
            rows += [Sample("h1", "meter", ts, p=load), Sample("h1", "pv", ts, p=pv)]
    store.write(rows)
    return store


@pytest.mark.parametrize("model", ["persistence", "sarima"])
def test_agent_reads_its_stored_history_and_orders_its_plan(tmp_path: Path, model: str) -> None:
    slots = 5 * 96 + 40  # five days and ten hours of readings
    now = DAY0 + slots * SLOT_S + 60
    store = _store_with_history(tmp_path, slots)
    house = MpcHouse("h1", SPEC, PRICES, store, model=model)
    assert house.observe(now) == slots  # every completed slot, none after now
    assert house.observe(now) == 0
    plan = house.replan(now, 0.3)
    assert plan is not None and plan.start == DAY0 + (slots + 1) * SLOT_S
    # a periodic house is forecast exactly: its PV at noon is the real one
    k = 48 - 41
    assert plan.pv_wh[k] == pytest.approx(_profile(48)[0] * 0.25, abs=1.0)
    window = (plan.start + 4 * SLOT_S, plan.start + 8 * SLOT_S)
    intents = house.intents(window, OwnerSettings(), _view(0.5))
    sell, buy = plan.window_wh(window)
    assert {i.side: i.energy_wh for i in intents} == {
        s: w for s, w in (("sell", sell), ("buy", buy)) if w >= 10
    }
    assert sell + buy > 0
    assert house.posted[-1][0] == window
    assert house.intents(window, OwnerSettings(enabled=False), _view()) == []
    assert house.intents((plan.end, plan.end + SLOT_S), OwnerSettings(), _view()) == []


def test_readings_after_now_are_never_read(tmp_path: Path) -> None:
    slots = 4 * 96 + 30
    now = DAY0 + slots * SLOT_S + 30
    plans = []
    for i, future in enumerate((0.0, 5_000.0)):
        d = tmp_path / str(i)
        d.mkdir()
        house = MpcHouse("h1", SPEC, PRICES, _store_with_history(d, slots, future))
        house.observe(now)
        plans.append(house.replan(now, 0.5))
    a, b = plans
    assert a is not None and b is not None
    np.testing.assert_array_equal(a.pv_wh, b.pv_wh)
    np.testing.assert_array_equal(a.bess_w, b.bess_w)


def test_car_is_ready_at_departure_and_charges_only_at_home() -> None:
    car = EvSpec(capacity_wh=40_000.0, charger_w=7_400.0, min_soc_departure=0.6)
    fleet_day = draw_sessions(car.fleet(), date(2025, 1, 7), 11, -4.0)
    assert int(fleet_day.departure[0]) > 0  # the car drives on this Tuesday

    def sessions(day: date) -> EvSessions:
        return draw_sessions(car.fleet(), day, 11, -4.0)

    start = DAY0 + 64 * SLOT_S  # Monday 16:00 UTC, a day ahead
    horizon = car_horizon(car, sessions, start, 96, 0.2)
    pv = np.array([_profile(k)[0] for k in range(64, 160)]) * 0.25
    load = np.full(96, 500.0 * 0.25)
    plan = plan_house(start, pv, load, SPEC, 0.5, PRICES, car=horizon)
    assert plan.ev_w is not None and plan.ev_soc is not None
    assert np.all(plan.ev_w[~horizon.home] == 0.0)
    assert np.all((plan.ev_w >= -1e-6) & (plan.ev_w <= car.charger_w + 1e-6))
    dep = np.flatnonzero(horizon.need_wh[:-1])  # the slot before Tuesday's departure
    assert dep.size == 1
    assert plan.ev_soc[dep[0]] * car.capacity_wh >= horizon.need_wh[dep[0]] - 1e-3
    assert horizon.need_wh[dep[0]] == pytest.approx(0.6 * car.capacity_wh)
    # balance per slot with the car: pv − load + battery − car = exports − imports (Wh)
    net = pv - load + (plan.bess_w - plan.ev_w) * 0.25
    np.testing.assert_allclose(net, plan.exp_wh - plan.imp_wh, atol=1e-6)
    assert plan.ev_points() and all(ts >= start for ts in plan.ev_points())


def test_houses_planned_together_cost_what_they_cost_alone() -> None:
    buy, sell = expected_prices(PRICES, 0.5)
    rng = np.random.default_rng(4)
    start = DAY0 + 40 * SLOT_S
    inputs = []
    for i in range(4):
        pv = np.array([_profile(k)[0] for k in range(40, 136)]) * 0.25 * (0.5 + i / 4)
        load = 100.0 + 60.0 * rng.random(96)
        inputs.append(PlanInput(start, pv, load, SPEC, 0.1 + 0.2 * i))

    def cost(plan: LivePlan) -> float:  # the LP's objective, wei (per Wh prices x Wh)
        stored = plan.soc[-1] * SPEC.capacity_wh
        return float(buy * plan.imp_wh.sum() - sell * plan.exp_wh.sum() - sell * stored) / 1000

    together = plan_houses(inputs, PRICES)
    alone = [plan_houses([i], PRICES)[0] for i in inputs]
    for a, b in zip(together, alone, strict=True):
        assert cost(a) == pytest.approx(cost(b), rel=1e-6, abs=1e-3)
    with pytest.raises(ValueError, match="same slots"):
        plan_houses(
            [inputs[0], PlanInput(start, inputs[0].pv_wh, inputs[0].load_wh, None, 0)], PRICES
        )
