"""One watchdog thread checks the relays of many houses, and ends with the last one."""

from __future__ import annotations

import threading
import time

import pytest

from gridpeer.hems.relay_watchdog import RelayWatchdog


class House:
    def __init__(self, fail: bool = False) -> None:
        self.checks = 0
        self.fail = fail

    def check(self) -> None:
        self.checks += 1
        if self.fail:
            raise RuntimeError("a broken house")


def named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_one_thread_checks_every_house_until_the_last_leaves() -> None:
    dog = RelayWatchdog(0.01, name="test-watchdog")
    houses = [House(fail=k == 3) for k in range(100)]
    assert named("test-watchdog") == []
    for h in houses:
        dog.add(h)
    dog.add(houses[0])  # twice: once
    assert len(dog) == 100 and len(named("test-watchdog")) == 1
    deadline = time.monotonic() + 10
    while min(h.checks for h in houses) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert min(h.checks for h in houses) >= 3  # a failing house stops no other's checks
    for h in houses[1:]:
        dog.remove(h)
    assert len(named("test-watchdog")) == 1  # one house left: still checked
    dog.remove(houses[0])
    assert named("test-watchdog") == []
    frozen = houses[0].checks
    time.sleep(0.05)
    assert houses[0].checks == frozen
    dog.add(houses[0])  # starts again
    assert len(named("test-watchdog")) == 1
    dog.remove(houses[0])


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RelayWatchdog(0)
