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

Power in W (``max(0, ±P)`` of the metered channel, ``invert`` for a CT the other way
round; with ``meter = "telemetry"`` the house's net grid power from its gridpeer meter
readings: export for OUT, import for IN); times are wall-clock seconds
(``time.monotonic``), the devices' own clocks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gridpeer.telemetry.adapters.bridge import DeviceBridge
from gridpeer.telemetry.adapters.config import DeviceConfig
from gridpeer.telemetry.delivery import Direction

log = logging.getLogger(__name__)


class DevicePower:
    """Relays and meters of one house's delivery directions on real devices.

    Args:
        bridge: the house's devices on MQTT (started and stopped with this object).
        relays: the device (relay + meter) of each direction; a direction without one
            meters 0 W (a house that only buys needs no OUT relay).
        stale_s: a reading older than this counts as missing, s.
        hold_s: a relay nobody asks about for this long opens, s.
        resend_s: unconfirmed commands are re-sent this often, s.
    """

    def __init__(
        self,
        bridge: DeviceBridge,
        relays: Mapping[Direction, DeviceConfig],
        stale_s: float = 30.0,
        hold_s: float = 5.0,
        resend_s: float = 2.0,
    ) -> None:
        self.bridge, self.relays = bridge, dict(relays)
        self.stale_s, self.hold_s, self.resend_s = stale_s, hold_s, resend_s
        self._holder: dict[Direction, frozenset[int]] = {}
        self._polled: dict[Direction, float] = {}
        self._sent: dict[Direction, tuple[bool, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="relay-watchdog", daemon=True)

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
        with self._lock:
            if not self._holder.get(direction):
                self._sent.pop(direction, None)  # newly held: command at once
            self._holder[direction] = frozenset(trades) if trades else frozenset({-1})
            self._polled[direction] = mono
            closed = self._confirmed(dev)
            if closed is not True:
                self._command(direction, True, mono)
                return 0.0
        if dev.meter == "telemetry":  # the house's grid meter: export OUT, import IN
            grid = self.bridge.house_grid()
            if grid is None or mono - grid[1] > self.stale_s:
                return 0.0
            return max(0.0, -grid[0] if direction is Direction.OUT else grid[0])
        if self.bridge.online(dev.topic) is False:
            return 0.0
        seen = self.bridge.reading(dev.topic, dev.channel)
        if seen is None or mono - seen.at > self.stale_s:
            return 0.0
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
                        self._sent.pop(direction, None)
                        self._command(direction, False, mono)

    def check(self) -> None:
        """The dead-man switch: open relays nobody holds any more (also called by the
        watchdog thread every ``resend_s / 4`` s)."""
        mono = time.monotonic()
        with self._lock:
            for direction, dev in self.relays.items():
                if (
                    self._holder.get(direction)
                    and mono - self._polled.get(direction, 0.0) > self.hold_s
                ):
                    log.warning("%s relay not metered for %.0f s: opening", direction, self.hold_s)
                    self._holder[direction] = frozenset()
                    self._sent.pop(direction, None)
                if not self._holder.get(direction) and self._confirmed(dev) is not False:
                    self._command(direction, False, mono)

    def _watch(self) -> None:
        while not self._stop.wait(self.resend_s / 4):
            try:
                self.check()
            except Exception:
                log.exception("relay watchdog failed")

    def start(self) -> None:
        """Connect to the devices and start the watchdog (it opens every relay first)."""
        self.bridge.start()
        self._thread.start()

    def stop(self) -> None:
        """Open every relay, stop the watchdog, disconnect."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            for direction in self.relays:
                self._holder[direction] = frozenset()
                self._sent.pop(direction, None)
                self._command(direction, False, time.monotonic(), wait_s=2.0)
        self.bridge.stop()


def device_relays(devices: list[DeviceConfig]) -> dict[Direction, DeviceConfig]:
    """The ``out`` / ``in`` devices of a house by direction."""
    return {Direction(d.role): d for d in devices if d.role in ("out", "in")}
