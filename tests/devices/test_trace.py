"""A house's flows at any time: fixed traces repeat, daily traces simulate each day lazily."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from gridpeer.devices.trace import DailyTraces, HouseTrace, RepeatingTrace
from gridpeer.runtime.community import house_days, lab_configs

DAY0 = date(2026, 12, 1)
T0 = datetime(2026, 12, 1, tzinfo=UTC).timestamp()


def fake_day(step_s: int = 3600) -> tuple[DailyTraces, list[tuple[date, float | None]]]:
    calls: list[tuple[date, float | None]] = []

    def simulate(day: date, soc0: float | None) -> HouseTrace:
        calls.append((day, soc0))
        n = 86_400 // step_s
        z = np.zeros(n)
        load = z + float(day.day)  # the day of month as load, W
        soc = np.linspace(soc0 or 0.5, (soc0 or 0.5) + 0.1, n)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return HouseTrace("h1", start, step_s, load, z, z, z, z, z + 50.0, soc, z, z + 230.0)

    return DailyTraces("h1", DAY0, simulate, step_s, keep=2), calls


def test_days_are_simulated_on_first_use_in_order_with_the_soc_carried() -> None:
    src, calls = fake_day()
    assert calls == []
    p = src.locate(T0 + 2 * 86_400 + 5 * 3600 + 10)
    assert (p.index, p.into_step_s) == (5, 10.0)
    assert float(p.trace.load_w[0]) == 3.0  # 3 December
    assert [d for d, _ in calls] == [DAY0, DAY0 + timedelta(1), DAY0 + timedelta(2)]
    assert calls[0][1] is None
    assert calls[1][1] == pytest.approx(0.6) and calls[2][1] == pytest.approx(0.7)
    src.locate(T0 + 2 * 86_400)  # cached: no new simulation
    assert len(calls) == 3
    src.locate(T0)  # evicted (keep=2): simulated again, same start SoC
    assert calls[-1] == (DAY0, None)


def test_meter_counts_across_days_and_span_crosses_midnight() -> None:
    src, _ = fake_day()
    # day 1 uses 1 W x 24 h = 24 Wh, day 2 uses 2 W: 24 + 2 x 1.5 h
    assert src.meter_wh(T0 + 86_400 + 5400) == pytest.approx(27.0)
    assert src.meter_wh(T0 - 3600) == pytest.approx(-30.0)  # 30 November, before the start
    w = src.span(T0 + 86_400 - 7200, T0 + 86_400 + 7200)
    assert list(w.load_w) == [1.0, 1.0, 2.0, 2.0]


def test_repeating_trace_wraps_and_keeps_counting() -> None:
    z = np.zeros(2)
    start = datetime.fromtimestamp(T0, UTC)
    tr = HouseTrace("h", start, 60, np.array([60.0, 120.0]), z, z, z, z, z, z, z, z + 230)
    src = RepeatingTrace(tr)
    assert src.locate(T0 + 180).index == 1
    assert src.meter_wh(T0 + 240) == pytest.approx(6.0)  # two periods of 3 Wh
    assert not src.has_pv and not src.has_battery


def test_the_demo_houses_differ_from_day_to_day_and_are_reproducible() -> None:
    cfg = lab_configs(2)
    a, b = house_days(cfg, DAY0), house_days(cfg, DAY0)
    assert all(d.is_cached(0) and not d.is_cached(1) for d in a)  # only day 0 up front
    d1, d2 = a[0].period(0), a[0].period(1)
    assert not np.array_equal(d1.load_w, d2.load_w)
    assert not np.array_equal(d1.pv_w, d2.pv_w)
    np.testing.assert_array_equal(d2.load_w, b[0].period(1).load_w)
    # the battery starts day 2 where day 1 ended (no jump at midnight)
    assert abs(float(d2.soc[0]) - float(d1.soc[-1])) < 0.02
    assert a[0].has_pv and a[0].has_battery
