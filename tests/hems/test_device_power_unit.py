"""DevicePower's relay rules against a recorded bridge (no broker): confirmation before
metering, re-sent commands, release, the dead-man switch, stale readings."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.hems.delivery import DeliveryExecutor
from gridpeer.hems.device_power import DevicePower
from gridpeer.telemetry.adapters.bridge import Seen
from gridpeer.telemetry.adapters.config import DeviceConfig
from gridpeer.telemetry.adapters.readings import ChannelReading
from gridpeer.telemetry.delivery import DeliveryCommand, Direction

NOW = datetime(2026, 6, 1, 13, tzinfo=UTC)
PLUG = DeviceConfig(kind="tasmota", topic="plug", role="out")


class RecordedBridge:
    """The parts of DeviceBridge that DevicePower uses, driven by the test."""

    def __init__(self) -> None:
        self.commands: list[bool] = []
        self.state: tuple[bool, float] | None = None
        self.seen: Seen | None = None
        self.is_online: bool | None = True

    def set_relay(self, device: str, channel: int, on: bool, wait_s: float = 0.0) -> bool:
        self.commands.append(on)
        return True

    def relay(self, device: str, channel: int) -> tuple[bool, float] | None:
        return self.state

    def reading(self, device: str, channel: int) -> Seen | None:
        return self.seen

    def online(self, device: str) -> bool | None:
        return self.is_online


def power(bridge: RecordedBridge, **kw: float) -> DevicePower:
    return DevicePower(bridge, {Direction.OUT: PLUG}, **kw)  # type: ignore[arg-type]


def reading(w: float, age_s: float = 0.0) -> Seen:
    return Seen(ChannelReading("plug", 0, NOW, power_w=w), time.monotonic() - age_s)


def test_no_power_until_the_device_confirms_the_relay() -> None:
    b = RecordedBridge()
    p = power(b, resend_s=0.0)
    b.seen = reading(1500.0)
    assert p.power_w(Direction.OUT, NOW, {1: 1.0}) == 0.0 and b.commands == [True]
    assert p.power_w(Direction.OUT, NOW, {1: 1.0}) == 0.0 and b.commands == [True, True]  # re-sent
    b.state = (True, time.monotonic())
    assert p.power_w(Direction.OUT, NOW, {1: 1.0}) == 1500.0
    assert p.power_w(Direction.IN, NOW, {1: 1.0}) == 0.0  # no IN relay configured


def test_stale_offline_and_negative_readings_count_zero() -> None:
    b = RecordedBridge()
    b.state = (True, time.monotonic())
    p = power(b, stale_s=10.0)
    b.seen = reading(800.0, age_s=11.0)
    assert p.power_w(Direction.OUT, NOW, {1: 1.0}) == 0.0
    b.seen = reading(800.0)
    b.is_online = False
    assert p.power_w(Direction.OUT, NOW, {1: 1.0}) == 0.0
    b.is_online = None  # no LWT seen yet: the reading decides
    b.seen = reading(-300.0)
    assert p.power_w(Direction.OUT, NOW, {1: 1.0}) == 0.0
    inverted = DevicePower(
        b,  # type: ignore[arg-type]
        {Direction.OUT: PLUG.model_copy(update={"invert": True})},
    )
    assert inverted.power_w(Direction.OUT, NOW, {1: 1.0}) == 300.0


def test_release_and_the_dead_man_switch_open_the_relay() -> None:
    b = RecordedBridge()
    b.state = (True, time.monotonic())
    p = power(b, hold_s=0.05, resend_s=0.0)
    p.power_w(Direction.OUT, NOW, {1: 1.0})
    p.release(2)  # not the holder: nothing happens
    assert b.commands == []
    p.release(1)
    assert b.commands == [False]
    p.power_w(Direction.OUT, NOW, {3: 1.0})  # next trade
    time.sleep(0.1)  # nobody asks any more
    p.check()
    assert b.commands[-1] is False
    b.state = (False, time.monotonic())
    n = len(b.commands)
    p.check()
    assert len(b.commands) == n  # confirmed open: no more commands


def test_a_relay_serving_two_trades_opens_when_both_are_done() -> None:
    b = RecordedBridge()
    b.state = (True, time.monotonic())
    p = power(b, resend_s=0.0)
    p.power_w(Direction.OUT, NOW, {1: 0.6, 2: 0.4})
    p.release(1)
    assert b.commands == []  # trade 2 still holds the relay
    p.release(2)
    assert b.commands == [False]


# -- metering from the devices' energy counters ---------------------------------------


def counted(w: float, wh: int) -> Seen:
    """A fresh reading of ``w`` W whose lifetime counter says ``wh`` Wh."""
    return Seen(ChannelReading("plug", 0, NOW, power_w=w, energy_wh=wh), time.monotonic())


def delivered(p: DevicePower, b: RecordedBridge, steps: list[tuple[int, int]]) -> float:
    """Run an executor for one 1,000 Wh trade over (counter Wh, seconds) steps; its Wh."""
    ex = DeliveryExecutor("h1")
    ex.accept(
        DeliveryCommand(
            trade_id=1,
            house="h1",
            direction=Direction.OUT,
            target_wh=1000,
            window_start=NOW,
            window_end=NOW + timedelta(hours=1),
        )
    )
    ex.step(NOW, {}, 0)
    t = NOW
    for wh, dt in steps:
        t += timedelta(seconds=dt)
        b.seen = counted(5000.0, wh)  # the instantaneous power says 5 kW throughout
        ex.step(t, {Direction.OUT: p.power_w(Direction.OUT, t, ex.shares(Direction.OUT))}, dt)
    return ex.tasks[1].measured_wh


def test_the_counter_increase_is_the_delivered_energy_not_the_sampled_power() -> None:
    b = RecordedBridge()
    b.state = (True, time.monotonic())
    p = power(b)
    # 120 s at a sampled 5 kW would be 166.7 Wh; the counter says 1000 → 1040 Wh
    got = delivered(p, b, [(1000, 30), (1010, 30), (1025, 30), (1040, 30)])
    assert got == pytest.approx(40.0)
    assert delivered(power(b, counters=False), b, [(1000, 30), (1010, 30)]) == pytest.approx(
        5000.0 * 60 / 3600
    )  # without counters: the integrated power


def test_the_counter_counts_only_while_the_relay_is_confirmed_and_for_the_same_trades() -> None:
    b = RecordedBridge()
    p = power(b, resend_s=0.0)
    t0 = NOW
    b.seen = counted(0.0, 500)
    assert p.power_w(Direction.OUT, t0, {1: 1.0}) == 0.0  # not confirmed: ON sent
    b.state = (True, time.monotonic())
    b.seen = counted(0.0, 520)  # energy before the confirmation is not the delivery's
    assert p.power_w(Direction.OUT, t0 + timedelta(seconds=1), {1: 1.0}) == 0.0  # baseline
    b.seen = counted(0.0, 530)
    assert p.power_w(Direction.OUT, t0 + timedelta(seconds=2), {1: 1.0}) == 36_000.0  # 10 Wh/s
    b.seen = counted(0.0, 600)  # trade 1 is over; trade 2 starts on the still closed relay
    assert p.power_w(Direction.OUT, t0 + timedelta(seconds=3), {2: 1.0}) == 0.0
    b.seen = counted(0.0, 601)
    assert p.power_w(Direction.OUT, t0 + timedelta(seconds=4), {2: 1.0}) == 3600.0
    b.state = (False, time.monotonic())  # the device reports the relay open (a reboot)
    b.seen = counted(0.0, 700)
    assert p.power_w(Direction.OUT, t0 + timedelta(seconds=5), {2: 1.0}) == 0.0
    b.state = (True, time.monotonic())
    b.seen = counted(0.0, 3)  # the adapter restarted: a new, lower counter
    assert p.power_w(Direction.OUT, t0 + timedelta(seconds=6), {2: 1.0}) == 0.0
    b.seen = counted(0.0, 1)  # backwards: a new baseline, nothing credited
    assert p.power_w(Direction.OUT, t0 + timedelta(seconds=7), {2: 1.0}) == 0.0
    assert p._delta[Direction.OUT].rebased == 1
    b.seen = counted(0.0, 2)
    assert p.power_w(Direction.OUT, t0 + timedelta(seconds=8), {2: 1.0}) == 3600.0


def test_a_stale_or_offline_counter_credits_nothing_across_the_gap() -> None:
    b = RecordedBridge()
    b.state = (True, time.monotonic())
    p = power(b, stale_s=10.0)
    b.seen = counted(0.0, 100)
    assert p.power_w(Direction.OUT, NOW, {1: 1.0}) == 0.0
    b.is_online = False
    b.seen = counted(0.0, 150)
    assert p.power_w(Direction.OUT, NOW + timedelta(seconds=1), {1: 1.0}) == 0.0
    b.is_online = True
    assert p.power_w(Direction.OUT, NOW + timedelta(seconds=2), {1: 1.0}) == 0.0  # baseline
    b.seen = Seen(ChannelReading("plug", 0, NOW, 0.0, energy_wh=170), time.monotonic() - 11)
    assert p.power_w(Direction.OUT, NOW + timedelta(seconds=3), {1: 1.0}) == 0.0  # stale
    b.seen = counted(0.0, 171)
    assert p.power_w(Direction.OUT, NOW + timedelta(seconds=4), {1: 1.0}) == 0.0  # baseline


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),  # the relay confirmed closed at this step
            st.integers(0, 50),  # counter increase since the last step, Wh
            st.sampled_from([1, 1, 1, 2]),  # the trade the relay serves
            st.integers(0, 3),  # model seconds since the last step
        ),
        max_size=40,
    )
)
def test_counted_energy_never_exceeds_the_counter_increase_while_confirmed(
    steps: list[tuple[bool, int, int, int]],
) -> None:
    b = RecordedBridge()
    p = power(b, resend_s=0.0)
    counter, credited, bound = 0, 0.0, 0
    t = NOW
    for confirmed, inc, trade, dt in steps:
        counter += inc
        t += timedelta(seconds=dt)
        b.state = (confirmed, time.monotonic())
        b.seen = counted(0.0, counter)
        credited += p.power_w(Direction.OUT, t, {trade: 1.0}) * dt / 3600.0
        bound += inc if confirmed else 0
    assert credited <= bound + 1e-6
