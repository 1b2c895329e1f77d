"""The demo's seeded history: how dense it is for a community's size, and where it ends."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from gridpeer.core.settings import load_settings
from gridpeer.devices.trace import HouseTrace
from gridpeer.runtime.composition import Parts
from gridpeer.runtime.demo import demo_clock
from gridpeer.runtime.services import history_step_s, seed_history
from gridpeer.store.factory import open_store


def test_one_minute_readings_up_to_50_houses_then_sparser_up_to_15_minutes() -> None:
    assert [history_step_s(n) for n in (1, 5, 50)] == [60, 60, 60]
    assert [history_step_s(n) for n in (51, 100, 1000, 10_000)] == [120, 120, 900, 900]
    steps = [history_step_s(n) for n in range(1, 2000)]
    assert steps == sorted(steps)


async def test_history_of_a_held_demo_ends_just_before_the_model_start(tmp_path: Path) -> None:
    """The sensor nodes publish from the model start: the seeded history stops one step
    before it, however long the set-up before it took (a reading at the start itself was
    counted as unpublished by the 1,000-house test)."""
    clock = demo_clock(3600.0, 6, datetime(2026, 3, 10, 13, tzinfo=UTC), held=True)
    day0 = clock.start - timedelta(hours=30)  # yesterday's midnight
    z = np.zeros(288 * 2)
    trace = HouseTrace("h1", day0, 300, z + 500, z, z, z, z, z, z, z + 500, z + 230)
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        parts = Parts(load_settings(), clock, tmp_path, [], [trace], store=store)
        time.sleep(0.01)  # 36 model seconds at 3600× if the clock ran
        async with seed_history(parts):
            pass
        assert {s.ts for s in store.latest("h1")} == {clock.start - timedelta(minutes=1)}
        assert store.count("h1", "meter") == 30 * 60
    finally:
        store.close()
