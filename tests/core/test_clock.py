"""The model clock held while a run sets up: time stands still, then runs on from there."""

from __future__ import annotations

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
