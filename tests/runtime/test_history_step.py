"""How dense the demo's seeded history is for a community's size."""

from __future__ import annotations

from gridpeer.runtime.services import history_step_s


def test_one_minute_readings_up_to_50_houses_then_sparser_up_to_15_minutes() -> None:
    assert [history_step_s(n) for n in (1, 5, 50)] == [60, 60, 60]
    assert [history_step_s(n) for n in (51, 100, 1000, 10_000)] == [120, 120, 900, 900]
    steps = [history_step_s(n) for n in range(1, 2000)]
    assert steps == sorted(steps)
