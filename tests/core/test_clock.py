"""The model clock held while a run sets up (created held, or held later): time stands
still, then runs on from there."""

from __future__ import annotations

import math
import pickle
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.core.clock import Clock

START = datetime(2026, 11, 30, 14, tzinfo=UTC)


class FakeWall:
    """``time.monotonic`` under the test's control (s)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> FakeWall:
    w = FakeWall()
    monkeypatch.setattr("gridpeer.core.clock.time.monotonic", w)
    return w


@given(delay_s=st.floats(0, 1e7), after_s=st.floats(0, 1e5), speed=st.floats(1e-3, 1e4))
def test_a_clock_created_held_is_at_its_start_until_released(
    delay_s: float, after_s: float, speed: float
) -> None:
    """However long the set-up takes, a clock created held reads exactly its start, and
    once released runs at its speed from that start."""
    w = FakeWall()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("gridpeer.core.clock.time.monotonic", w)
        c = Clock(start=START, speed=speed, held=True)
        assert c.held
        w.t += delay_s
        assert c.now() == START
        assert c.timestamp() == START.timestamp()
        c.release()
        assert not c.held
        assert c.now() == START
        w.t += after_s
        ran_s = (c.now() - START).total_seconds()
        assert math.isclose(ran_s, after_s * speed, rel_tol=1e-9, abs_tol=1e-3)  # float wall


def test_a_clock_created_held_reads_its_start_on_the_real_wall_clock() -> None:
    c = Clock(START, 1e9, held=True)  # a microsecond of wall time would be 1,000 s here
    assert [c.now() for _ in range(100)] == [START] * 100


def test_a_pickled_held_clock_stays_held_at_its_start(wall: FakeWall) -> None:
    c = Clock(start=START, speed=120, held=True)
    copy = pickle.loads(pickle.dumps(c))
    wall.t += 60
    assert copy.held
    assert copy.now() == START
    copy.release()
    wall.t += 1
    assert copy.now() == START + timedelta(minutes=2)
    assert c.now() == START  # the original is still held


def test_clock_refusals() -> None:
    with pytest.raises(ValueError, match="speed"):
        Clock(START, 0)
    with pytest.raises(ValueError, match="timezone"):
        Clock(datetime(2026, 11, 30, 14), held=True)


def test_held_clock_stands_still_then_runs_on(wall: FakeWall) -> None:
    c = Clock(start=START, speed=60)
    c.hold()
    assert c.held
    wall.t += 300  # five wall minutes of set-up
    assert c.now() == START
    c.release()
    assert not c.held
    assert c.now() == START
    wall.t += 10
    assert c.now() == START + timedelta(minutes=10)


def test_hold_mid_run_keeps_the_time_reached(wall: FakeWall) -> None:
    c = Clock(start=START, speed=2)
    wall.t += 5
    c.hold()
    c.hold()  # twice: still the first hold
    wall.t += 100
    assert c.now() == START + timedelta(seconds=10)
    c.release()
    c.release()  # twice: no jump
    wall.t += 1
    assert c.now() == START + timedelta(seconds=12)


def test_a_released_copy_agrees_with_the_original(wall: FakeWall) -> None:
    """The demo's web process gets a pickled copy once the clock runs."""
    c = Clock(start=START, speed=60)
    c.hold()
    wall.t += 50
    c.release()
    copy = pickle.loads(pickle.dumps(c))
    wall.t += 7
    assert copy.now() == c.now() == START + timedelta(minutes=7)


@given(st.lists(st.tuples(st.floats(0, 1e4), st.floats(0, 1e4)), max_size=8))
def test_model_time_is_wall_time_minus_held_time(steps: list[tuple[float, float]]) -> None:
    """Whatever the holds, model time = start + (wall time not held) × speed, and it never
    goes back."""
    w = FakeWall()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("gridpeer.core.clock.time.monotonic", w)
        c = Clock(start=START, speed=3)
        running, last = 0.0, c.now()
        for run_s, held_s in steps:
            w.t += run_s
            running += run_s
            c.hold()
            w.t += held_s
            c.release()
            now = c.now()
            assert now >= last
            assert abs((now - START).total_seconds() - running * 3) < 1e-3 * (1 + running)
            last = now
