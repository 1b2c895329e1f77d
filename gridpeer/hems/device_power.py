"""Delivery relays and meters on real devices: a :class:`~.delivery_power.PowerSource`
that switches a Tasmota or Shelly relay and meters the delivery from that device.

The delivery agent asks :meth:`DevicePower.power_w` for the power of a direction while
trades of that direction run (one relay serves all of them at once); that is when the
relay must be closed. So:

* the first ask while the relay is not held sends the device's ON command (re-sent
  every ``resend_s`` until the device confirms it: Tasmota ``stat/…/RESULT``, Shelly RPC
  answer or ``switch:<n>.output``);
* power counts only while the device **confirms** the relay closed, the device is not
  offline, and its last reading is younger than ``stale_s`` — otherwise the answer is
  0 W: a silent, rebooted or offline device never credits energy it did not measure;
* the relay opens on :meth:`release` of the last trade holding it, and — a dead-man
  switch — when nobody has asked for its power for ``hold_s`` wall seconds (the trades
  ended, or the agent stopped); a relay confirmed closed with no trade holding it is
  switched off again (every ``resend_s``) until the device confirms it open.

**Energy counters first.** When the metered channel reports a lifetime energy counter
(Tasmota ``ENERGY.Total``, Shelly ``aenergy.total``, Pro EM ``em1data``
``total_act_energy`` / ``total_act_ret_energy``; made monotonic by the adapters'
:class:`~gridpeer.telemetry.adapters.readings.EnergyCounter`, which handles resets,
reboots and rollbacks), the delivered energy is the counter's increase while the relay is
confirmed closed (:class:`CounterDelta`), handed to the executor as the average power over
the step (``ΔWh × 3600 / Δt``), so the executor integrates exactly the counted Wh: the
device's own metering, not samples of its instantaneous power. The baseline is the latest
reading when the relay is first seen confirmed closed; it is dropped (nothing credited
across the gap) when the relay is not confirmed, the device is offline or its reading
stale, the relay starts serving other trades, or the counter goes backwards. Energy is
never counted twice; a gap can only under-count. A channel without a counter is metered
by integrating its power, as before.

Power in W (``max(0, ±P)`` of the metered channel, ``invert`` for a CT the other way
round — then the returned-energy counter; with ``meter = "telemetry"`` the house's net
grid power from its gridpeer meter readings: export for OUT, import for IN); times are
wall-clock seconds (``time.monotonic``), the devices' own clocks; ``now`` is the agent's
model time (UTC), the clock of its steps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridpeer.hems.relay_watchdog import RelayWatchdog
from gridpeer.telemetry.adapters.bridge import DeviceBridge
from gridpeer.telemetry.adapters.config import DeviceConfig
from gridpeer.telemetry.adapters.readings import ChannelReading
from gridpeer.telemetry.delivery import Direction

log = logging.getLogger(__name__)


@dataclass
class CounterDelta:
    """Delivered energy of one relay from a device's lifetime counter (pure).

    Attributes:
        base_wh: the counter at the last step, Wh (None: no baseline yet).
        base_at: the model time (UTC) of the last step.
        rebased: baselines dropped because the counter went backwards.
    """

    base_wh: float | None = None
    base_at: datetime | None = None
    rebased: int = 0

    def reset(self) -> None:
        """Forget the baseline: the next step starts a new one and credits nothing."""
        self.base_wh = self.base_at = None

    def power_w(self, counter_wh: float, now: datetime) -> float:
        """The average power that makes the executor's ``P × Δt`` equal the counter's
        increase since the last step, W (0 on the first step, for a step of no model
        time, or when the counter went backwards, which starts a new baseline).

        Args:
            counter_wh: the device's lifetime counter now, Wh (monotonic upstream).
            now: the agent's model time of this step (UTC).
        """
        if self.base_wh is None or self.base_at is None:
            self.base_wh, self.base_at = counter_wh, now
            return 0.0
        dt_s = (now - self.base_at).total_seconds()
        if dt_s <= 0:
            return 0.0  # nothing to spread it over: keep the baseline for the next step
        added = counter_wh - self.base_wh
        self.base_wh, self.base_at = counter_wh, now
        if added < 0:
            self.rebased += 1
            return 0.0
        return added * 3600.0 / dt_s


def channel_counter(reading: ChannelReading, invert: bool) -> int | None:
    """The lifetime counter of the delivery's direction through the channel, Wh: the
    consumed counter, or the returned one for an ``invert``-ed meter (None: none)."""
    return reading.returned_wh if invert else reading.energy_wh


class DevicePower:
    """Relays and meters of one house's delivery directions on real devices.

    Args:
        bridge: the house's devices on MQTT (started and stopped with this object).
        relays: the device (relay + meter) of each direction; a direction without one
            meters 0 W (a house that only buys needs no OUT relay).
        stale_s: a reading older than this counts as missing, s.
        hold_s: a relay nobody asks about for this long opens, s.
        resend_s: unconfirmed commands are re-sent this often, s.
        counters: meter from the devices' energy counters where they have them
            (otherwise only by integrating power).
        watchdog: the thread running the dead-man switch (:meth:`check`), shared by
            many houses; by default one of its own, every ``resend_s / 4`` s.
    """

    def __init__(
        self,
        bridge: DeviceBridge,
        relays: Mapping[Direction, DeviceConfig],
        stale_s: float = 30.0,
        hold_s: float = 5.0,
        resend_s: float = 2.0,
        counters: bool = True,
        watchdog: RelayWatchdog | None = None,
    ) -> None:
        self.bridge, self.relays = bridge, dict(relays)
        self.stale_s, self.hold_s, self.resend_s = stale_s, hold_s, resend_s
        self.counters = counters
        self._delta: dict[Direction, CounterDelta] = {d: CounterDelta() for d in Direction}
        self._holder: dict[Direction, frozenset[int]] = {}
        self._polled: dict[Direction, float] = {}
        self._sent: dict[Direction, tuple[bool, float]] = {}
        self._lock = threading.Lock()
        self.watchdog = watchdog if watchdog is not None else RelayWatchdog(max(resend_s / 4, 0.01))
        self._stopped = False

    def _confirmed(self, dev: DeviceConfig) -> bool | None:
        state = self.bridge.relay(dev.topic, dev.channel)
        return None if state is None else state[0]

    def _command(self, direction: Direction, on: bool, now: float, wait_s: float = 0.0) -> None:
        """Send ON/OFF unless the same was sent less than ``resend_s`` ago (lock held)."""
        dev = self.relays[direction]
        sent = self._sent.get(direction)
        if sent is not None and sent[0] == on and now - sent[1] < self.resend_s:
            return
        self._sent[direction] = (on, now)
        self.bridge.set_relay(dev.topic, dev.channel, on, wait_s)
        log.info("%s relay %s:%d → %s", direction.value, dev.topic, dev.channel, on)

    def power_w(
        self, direction: Direction, now: datetime, trades: Mapping[int, Any] | None = None
    ) -> float:
        """Close the relay of ``direction`` (held by ``trades``, the trade ids it serves)
        and return the metered power through it, W (0 until the device confirms the relay
        closed, and while its readings are missing, stale or it is offline)."""
        dev = self.relays.get(direction)
        if dev is None:
            return 0.0
        mono = time.monotonic()
        delta = self._delta[direction]
        with self._lock:
            held = frozenset(trades) if trades else frozenset({-1})
            before = self._holder.get(direction)
            if not before:
                self._sent.pop(direction, None)  # newly held: command at once
            if not before or before.isdisjoint(held):
                delta.reset()  # other trades: what the counter said before is not theirs
            self._holder[direction] = held
            self._polled[direction] = mono
            closed = self._confirmed(dev)
            if closed is not True:
                delta.reset()
                self._command(direction, True, mono)
                return 0.0
        if dev.meter == "telemetry":  # the house's grid meter: export OUT, import IN
            grid = self.bridge.house_grid()
            if grid is None or mono - grid[1] > self.stale_s:
                return 0.0
            return max(0.0, -grid[0] if direction is Direction.OUT else grid[0])
        seen = self.bridge.reading(dev.topic, dev.channel)
        fresh = seen is not None and mono - seen.at <= self.stale_s
        counter = (
            channel_counter(seen.reading, dev.invert)
            if seen is not None and self.counters
            else None
        )
        with self._lock:  # the watchdog may drop the baseline meanwhile
            if self.bridge.online(dev.topic) is False or seen is None or not fresh:
                delta.reset()
                return 0.0
            if counter is not None:
                return delta.power_w(float(counter), now)
            delta.reset()
        p = -seen.reading.power_w if dev.invert else seen.reading.power_w
        return max(0.0, p)

    def release(self, trade_id: int) -> None:
        """``trade_id`` is done: open a relay it was the last trade holding."""
        mono = time.monotonic()
        with self._lock:
            for direction, holder in list(self._holder.items()):
                if trade_id in holder:
                    self._holder[direction] = holder - {trade_id}
                    if not self._holder[direction]:
                        self._delta[direction].reset()
                        self._sent.pop(direction, None)
                        self._command(direction, False, mono)

    def check(self) -> None:
        """The dead-man switch: open relays nobody holds any more (also called by the
        watchdog's thread, by default every ``resend_s / 4`` s)."""
        mono = time.monotonic()
        with self._lock:
            if self._stopped:  # a shared watchdog's round may still reach a stopped house
                return
            for direction, dev in self.relays.items():
                if (
                    self._holder.get(direction)
                    and mono - self._polled.get(direction, 0.0) > self.hold_s
                ):
                    log.warning("%s relay not metered for %.0f s: opening", direction, self.hold_s)
                    self._holder[direction] = frozenset()
                    self._delta[direction].reset()
                    self._sent.pop(direction, None)
                if not self._holder.get(direction) and self._confirmed(dev) is not False:
                    self._command(direction, False, mono)

    def start(self) -> None:
        """Connect to the devices and start the watchdog (it opens every relay first)."""
        self.bridge.start()
        with self._lock:
            self._stopped = False
        self.watchdog.add(self)

    def stop(self) -> None:
        """Open every relay, stop the watchdog, disconnect."""
        self.watchdog.remove(self)
        with self._lock:
            self._stopped = True
            for direction in self.relays:
                self._holder[direction] = frozenset()
                self._sent.pop(direction, None)
                self._command(direction, False, time.monotonic(), wait_s=2.0)
        self.bridge.stop()


def device_relays(devices: list[DeviceConfig]) -> dict[Direction, DeviceConfig]:
    """The ``out`` / ``in`` devices of a house by direction."""
    return {Direction(d.role): d for d in devices if d.role in ("out", "in")}
