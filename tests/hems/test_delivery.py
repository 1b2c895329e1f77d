"""The agent's delivery state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.hems.delivery import DeliveryExecutor, Phase
from gridpeer.telemetry.delivery import DeliveryCommand, Direction

T0 = datetime(2026, 1, 1, 13, tzinfo=UTC)


def cmd(
    tid: int, wh: int, start_min: int = 0, dur_min: int = 60, d: str = "out"
) -> DeliveryCommand:
    return DeliveryCommand(
        trade_id=tid,
        house="h1",
        direction=Direction(d),
        target_wh=wh,
        window_start=T0 + timedelta(minutes=start_min),
        window_end=T0 + timedelta(minutes=start_min + dur_min),
    )


def run(ex: DeliveryExecutor, power: float, minutes: int, step_s: int = 60) -> None:
    for k in range(minutes * 60 // step_s + 1):
        ex.step(
            T0 + timedelta(seconds=k * step_s),
            {Direction.OUT: power, Direction.IN: power},
            step_s if k else 0,
        )


def test_closes_at_window_start_and_opens_at_target() -> None:
    ex = DeliveryExecutor("h1")
    assert ex.accept(cmd(1, 100, start_min=10))
    ex.step(T0, {}, 0)
    assert not ex.relay_closed(Direction.OUT)
    ex.step(T0 + timedelta(minutes=10), {}, 600)
    assert ex.relay_closed(Direction.OUT)
    # 1200 W for 5 min = 100 Wh
    done = ex.step(T0 + timedelta(minutes=15), {Direction.OUT: 1200.0}, 300)
    assert done[0].phase is Phase.DONE and done[0].reason == "target"
    res = done[0].result()
    assert res.measured_wh == 100 and res.closed_at == T0 + timedelta(minutes=10)
    assert not ex.relay_closed(Direction.OUT)


def test_under_delivery_opens_at_window_end() -> None:
    ex = DeliveryExecutor("h1")
    ex.accept(cmd(1, 1000, dur_min=60))
    run(ex, 300.0, 70)
    res = ex.tasks[1].result()
    assert res.reason == "window_end" and res.measured_wh == 300


def test_duplicate_command_runs_once_and_wrong_house_refused() -> None:
    ex = DeliveryExecutor("h1")
    assert ex.accept(cmd(1, 100))
    run(ex, 6000.0, 5)
    assert not ex.accept(cmd(1, 100))
    assert ex.tasks[1].phase is Phase.DONE and ex.tasks[1].measured_wh == 100
    other = cmd(2, 10).model_copy(update={"house": "h2"})
    with pytest.raises(ValueError, match="sent to 'h1'"):
        ex.accept(other)


def test_missed_window_reports_zero() -> None:
    ex = DeliveryExecutor("h1")
    ex.accept(cmd(1, 100, dur_min=30))
    ex.step(T0 + timedelta(hours=2), {Direction.OUT: 5000.0}, 7200)
    res = ex.tasks[1].result()
    assert res.measured_wh == 0 and res.closed_at is None


def test_not_done_has_no_result() -> None:
    ex = DeliveryExecutor("h1")
    ex.accept(cmd(1, 100))
    with pytest.raises(ValueError, match="not done"):
        ex.tasks[1].result()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 2000),  # target Wh
            st.integers(0, 90),  # window start, min
            st.integers(5, 60),  # duration, min
            st.sampled_from(["in", "out"]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.floats(0, 5000), min_size=1, max_size=20),
)
def test_invariants(trades: list[tuple[int, int, int, str]], powers: list[float]) -> None:
    """Measured <= target; energy only counted inside the window; a relay serves only trades
    whose window is open; total measured per direction <= metered energy on that relay."""
    ex = DeliveryExecutor("h1")
    for i, (wh, s, d, dr) in enumerate(trades):
        ex.accept(cmd(i, wh, s, d, dr))
    step_s = 60
    metered = {Direction.IN: 0.0, Direction.OUT: 0.0}
    for k in range(200):
        now = T0 + timedelta(seconds=k * step_s)
        p = powers[k % len(powers)]
        for dr in Direction:
            if ex.relay_closed(dr):
                metered[dr] += p * step_s / 3600
        ex.step(now, {Direction.IN: p, Direction.OUT: p}, step_s if k else 0)
        closed = [t for t in ex.tasks.values() if t.phase is Phase.CLOSED]
        assert all(t.command.window_start <= now < t.command.window_end for t in closed)
    for t in ex.tasks.values():
        assert t.phase is Phase.DONE
        r = t.result()
        assert 0 <= r.measured_wh <= r.target_wh
        if r.closed_at is not None:
            assert t.command.window_start <= r.closed_at < t.command.window_end
        assert r.opened_at <= t.command.window_end + timedelta(seconds=step_s)
    for dr in Direction:
        got = sum(t.measured_wh for t in ex.tasks.values() if t.command.direction is dr)
        assert got <= metered[dr] + 1e-6


def test_a_relay_serves_every_trade_of_its_window_at_once() -> None:
    """A buyer with two trades in one window: its IN meter reads a little less than the
    sellers pushed, yet both trades get their share (not 0 Wh for the second)."""
    ex = DeliveryExecutor("h1")
    ex.accept(cmd(1, 300, d="in"))
    ex.accept(cmd(2, 100, d="in"))
    ex.step(T0, {}, 0)
    assert ex.shares(Direction.IN) == {1: 0.75, 2: 0.25}
    run(ex, 390.0, 60)  # 390 Wh over the hour for 400 Wh contracted
    r1, r2 = ex.tasks[1].result(), ex.tasks[2].result()
    # 390 Wh split 3:1 = 292.5 + 97.5; the tie rounds up the lowest trade id
    assert (r1.measured_wh, r2.measured_wh) == (293, 97)
    assert r1.reason == r2.reason == "window_end"


def test_three_trades_fill_together_and_end_at_their_targets() -> None:
    ex = DeliveryExecutor("h1")
    for tid, wh in ((4, 50), (5, 120), (6, 30)):
        ex.accept(cmd(tid, wh, d="in"))
    run(ex, 2400.0, 10)  # 400 Wh offered, 200 Wh contracted: all reach target together
    got = {t: ex.tasks[t].result() for t in (4, 5, 6)}
    assert {t: r.measured_wh for t, r in got.items()} == {4: 50, 5: 120, 6: 30}
    assert {r.reason for r in got.values()} == {"target"}
    assert len({r.opened_at for r in got.values()}) == 1


def test_a_late_command_joins_the_running_relay() -> None:
    ex = DeliveryExecutor("h1")
    ex.accept(cmd(1, 1000))
    run(ex, 600.0, 30)  # 300 Wh for trade 1 alone
    ex.accept(cmd(2, 1000))
    for k in range(31, 61):
        ex.step(T0 + timedelta(minutes=k), {Direction.OUT: 600.0}, 60)
    r1, r2 = ex.tasks[1].result(), ex.tasks[2].result()
    assert r1.measured_wh + r2.measured_wh == 600
    # trade 2 closes at minute 31 (its first step): 310 Wh for 1 alone, then 290 Wh halved
    assert (r1.measured_wh, r2.measured_wh) == (455, 145)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(1, 2000), min_size=1, max_size=5),
    st.lists(st.integers(0, 3000), min_size=1, max_size=12),
)
def test_one_windows_results_add_up_to_what_the_relay_metered(
    targets: list[int], hourly_wh: list[int]
) -> None:
    """Trades of one window: their whole-Wh results sum to the relay's metered Wh (capped
    by the total contracted), none above its contract."""
    ex = DeliveryExecutor("h1")
    for i, wh in enumerate(targets):
        ex.accept(cmd(i, wh, dur_min=60 * len(hourly_wh)))
    ex.step(T0, {}, 0)
    metered = 0
    for k, wh in enumerate(hourly_wh, start=1):
        if ex.relay_closed(Direction.OUT):
            metered += wh
        ex.step(T0 + timedelta(hours=k), {Direction.OUT: float(wh)}, 3600)
    results = [ex.tasks[i].result().measured_wh for i in range(len(targets))]
    assert sum(results) == min(metered, sum(targets))
    assert all(0 <= r <= t for r, t in zip(results, targets, strict=True))
