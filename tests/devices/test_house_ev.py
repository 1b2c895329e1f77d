"""The live demo's EV house: sessions from the simulator's EV model, energy balance per
step and per slot, charger and SoC limits, reproducible by seed, SoC carried over
midnight, and readings over the EV charger's telemetry topic."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.devices.balance import check_balance, flows_wh
from gridpeer.devices.ev import EvSpec, draw_sessions
from gridpeer.devices.house import HouseConfig, house_seed, simulate_house, thesis_lab_houses
from gridpeer.profiles.load import LoadBank, richardson_bank
from gridpeer.runtime.community import EV_HOUSE, house_days, house_info, lab_configs
from gridpeer.store.base import Sample
from gridpeer.telemetry.schemas import Device
from gridpeer.telemetry.sensor import TraceSampler, encode
from gridpeer.telemetry.topics import reading_topic
from gridpeer.telemetry.validate import validate_message

DAY = date(2025, 1, 20)
SPEC = EvSpec(capacity_wh=40_000.0, charger_w=7_400.0, soc_initial=0.3)


@pytest.fixture(scope="module")
def bank() -> LoadBank:
    return richardson_bank(households=3, days=7, seed=0)


def _config() -> HouseConfig:
    return dataclasses.replace(thesis_lab_houses()[EV_HOUSE], ev=SPEC)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1_000), offset=st.integers(0, 60), soc0=st.floats(0.0, 1.0))
def test_ev_house_balances_and_stays_in_limits(
    bank: LoadBank, seed: int, offset: int, soc0: float
) -> None:
    cfg = _config()
    day = DAY + timedelta(days=offset)
    tr = simulate_house(cfg, day, step_s=60, seed=seed, bank=bank, ev_soc=soc0)
    assert tr.ev_w is not None and tr.ev_soc is not None
    # the house balances per step, the car's charging being part of its load
    check_balance(flows_wh(tr.load_w, tr.pv_w, tr.bess_w, tr.grid_w, tr.step_s))
    assert np.all(tr.ev_w >= 0.0) and np.all(tr.ev_w <= SPEC.charger_w + 1e-9)  # no V2G
    assert np.all(tr.ev_w <= tr.load_w + 1e-9)
    assert np.all((tr.ev_soc >= 0.0) & (tr.ev_soc <= 1.0))
    # sessions are the simulator's: the car charges only while plugged in at home
    sess = draw_sessions(SPEC.fleet(), day, house_seed(seed, cfg.house), cfg.site.utc_offset_h)
    slot_w = tr.ev_w.reshape(96, 15).mean(axis=1)
    assert np.all(slot_w[~sess.home[0]] == 0.0)
    # energy per slot: stored Wh change = eta * charged Wh - trip (+ what was charged
    # elsewhere when the trip was bigger than the battery held)
    stored = np.concatenate(([soc0], tr.ev_soc.reshape(96, 15)[:, -1])) * SPEC.capacity_wh
    charged = slot_w * 0.25 * SPEC.efficiency
    public = np.clip(sess.trip_wh[0] - (stored[:-1] + charged), 0.0, None)
    np.testing.assert_allclose(
        np.diff(stored), charged - sess.trip_wh[0] + public, atol=1e-6 * SPEC.capacity_wh
    )
    # reproducible by seed
    again = simulate_house(cfg, day, step_s=60, seed=seed, bank=bank, ev_soc=soc0)
    np.testing.assert_array_equal(tr.ev_w, again.ev_w)
    np.testing.assert_array_equal(tr.load_w, again.load_w)


def test_car_comes_home_and_charges_on_a_weekday(bank: LoadBank) -> None:
    cfg = _config()
    charged = [
        simulate_house(cfg, DAY + timedelta(days=d), seed=3, bank=bank, ev_soc=0.3).ev_w
        for d in range(5)  # Monday..Friday: the car drives on most of them
    ]
    assert sum(float(np.sum(w)) for w in charged if w is not None) > 0.0
    without = simulate_house(thesis_lab_houses()[EV_HOUSE], DAY, seed=3, bank=bank)
    assert without.ev_w is None


def test_demo_ev_house_carries_soc_over_midnight_and_reports_over_mqtt() -> None:
    configs = lab_configs(5)
    assert [c.ev is not None for c in configs] == [False, False, True, False, False]
    assert house_info(configs[EV_HOUSE]).ev_kwh == pytest.approx(SPEC.capacity_wh / 1000.0)
    days = house_days(configs, DAY)
    ev = days[EV_HOUSE]
    d0, d1 = ev.period(0), ev.period(1)
    assert d0.ev_soc is not None and d1.ev_soc is not None
    alone = simulate_house(
        configs[EV_HOUSE], DAY + timedelta(days=1), ev_soc=float(d0.ev_soc[-1])
    )  # day 2 starts where day 1 ended
    np.testing.assert_array_equal(d1.ev_soc, alone.ev_soc)
    sampler = TraceSampler(ev)
    assert Device.EV in sampler.devices
    assert Device.EV not in TraceSampler(days[0]).devices
    t0 = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    for minute in range(0, 2 * 1440, 97):
        ts_ms = int((t0 + timedelta(minutes=minute)).timestamp() * 1000)
        readings = dict(sampler.readings(ts_ms))
        topic = reading_topic("demo", "h3", Device.EV)
        s = validate_message(topic, encode(readings[Device.EV]), "demo", "h3")
        assert isinstance(s, Sample) and s.device == "ev", s
        assert s.p is not None and 0.0 <= s.p <= float(readings[Device.METER]["p"])  # in the load
