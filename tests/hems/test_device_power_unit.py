"""DevicePower's relay rules against a recorded bridge (no broker): confirmation before
metering, re-sent commands, release, the dead-man switch, stale readings."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from gridpeer.hems.device_power import DevicePower
from gridpeer.telemetry.adapters.bridge import Seen
from gridpeer.telemetry.adapters.config import DeviceConfig
from gridpeer.telemetry.adapters.readings import ChannelReading
from gridpeer.telemetry.delivery import Direction

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
