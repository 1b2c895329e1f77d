from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.store.base import Sample
from gridpeer.telemetry.schemas import Device
from gridpeer.telemetry.sensor import TraceSampler, encode, iso_ms
from gridpeer.telemetry.topics import reading_topic
from gridpeer.telemetry.validate import validate_message
from tests.telemetry.traces import make_trace

START = datetime(2026, 6, 1, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)


def test_iso_ms() -> None:
    assert iso_ms(START_MS + 1_234) == "2026-06-01T00:00:01.234Z"


def test_devices_present_follow_the_trace() -> None:
    assert TraceSampler(make_trace("h", START)).devices == (Device.METER, Device.PV, Device.BESS)
    consumer = TraceSampler(make_trace("h", START, pv=False, bess=False))
    assert consumer.devices == (Device.METER,)


@settings(deadline=None)  # no timing assertions: CI machines are loaded
@given(offset_s=st.floats(0, 10 * 86400), seed=st.integers(0, 50))
def test_every_reading_passes_validation(offset_s: float, seed: int) -> None:
    sampler = TraceSampler(make_trace("h1", START, seed=seed))
    ts_ms = START_MS + int(offset_s * 1000)
    for device, payload in sampler.readings(ts_ms):
        s = validate_message(reading_topic("c", "h1", device), encode(payload), "c", "h1")
        assert isinstance(s, Sample), s
        assert s.ts == START + timedelta(milliseconds=ts_ms - START_MS)


def test_values_come_from_the_right_step() -> None:
    trace = make_trace("h1", START, steps=10, step_s=60)
    (_, meter), (_, pv), (_, bess) = TraceSampler(trace).readings(START_MS + 150_000)  # step 2
    assert meter["p"] == pytest.approx(trace.load_w[2], abs=0.05)
    assert meter["p_grid"] == pytest.approx(trace.grid_w[2], abs=0.05)
    assert pv["p"] == pytest.approx(trace.pv_w[2], abs=0.05)
    assert bess["soc"] == pytest.approx(trace.soc[2], abs=1e-4)
    assert bess["i"] == pytest.approx(trace.bess_w[2] / 51.2, abs=1e-3)


def test_cumulative_energy_integrates_load_and_repeats() -> None:
    steps, step_s = 24, 3600
    trace = make_trace("h1", START, steps=steps, step_s=step_s)
    sampler = TraceSampler(trace)
    day_wh = float(np.sum(trace.load_w))  # 1-h steps: W·h
    e = [int(sampler.readings(START_MS + k * 3_600_000)[0][1]["e_wh"]) for k in range(0, 49)]
    assert e[0] == 0
    assert e[24] == pytest.approx(day_wh, abs=1)
    assert e[48] == pytest.approx(2 * day_wh, abs=2)
    assert all(b >= a for a, b in itertools.pairwise(e))


def test_payloads_are_small() -> None:
    sizes = [len(encode(p)) for _, p in TraceSampler(make_trace("h", START)).readings(START_MS)]
    assert max(sizes) < 130
    assert json.loads(encode({"a": 1})) == {"a": 1}


def test_empty_trace_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        TraceSampler(make_trace("h", START, steps=0))


def test_readings_from_the_device_models_pass_validation() -> None:
    """Contract with gridpeer.devices: a simulated thesis-lab day only yields valid readings."""
    from gridpeer.devices.house import simulate_house, thesis_lab_houses

    for config in thesis_lab_houses():
        trace = simulate_house(config, START)
        sampler = TraceSampler(trace)
        for k in range(0, len(trace) * trace.step_s * 1000, 397_000):
            for device, payload in sampler.readings(START_MS + k):
                topic = reading_topic("c", trace.house, device)
                assert isinstance(
                    validate_message(topic, encode(payload), "c", trace.house), Sample
                )
