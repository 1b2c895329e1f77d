"""A house whose battery and EV follow a schedule: the live MPC agent's physical devices.

:class:`ScheduledHouse` is a :class:`~gridpeer.devices.trace.TraceSource` over a house's
flows *without* its battery and car (its PV and inflexible load, day after day) plus:

* a car (optional, :class:`~gridpeer.devices.ev.EvSpec`) plugged in per the simulator's
  session model (:func:`~gridpeer.devices.ev.draw_sessions`, seeded per house): in each
  15-minute UTC slot with a set point its charger runs at that power (+ charging, − V2G
  if allowed), otherwise it charges at full power until full (the rule-based baseline);
  never while the car is away, never beyond the charger's power or the car's capacity.
  Its power is part of the house's load (the meter measures it);
* a battery (optional): in each slot with a set point it runs at that power, otherwise
  the self-consumption rule (charge from surplus, discharge to cover the deficit); always
  within its power limits and SoC window, clipped step by step (``step_s`` of the flows).

The grid takes the rest, so every step balances: ``load = pv + bess + grid`` (W; bess
+ discharge, grid + import). Set points come from the home agent (:meth:`set_points`);
they only change slots that have not started (readings already sent never change). A
day is recomputed when its set points change; battery and car SoC carry over midnight.
Units: W, Wh, SoC 0..1, times UTC unix seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date, timedelta

import numpy as np

from gridpeer.devices.battery import BatterySpec, one_way_efficiency, terminal_voltage_v
from gridpeer.devices.ev import EvSessions, EvSpec, draw_sessions, step_energy
from gridpeer.devices.trace import FloatArray, HouseTrace, TraceSource

SLOT_S = 900
SLOTS = 96


class ScheduledHouse(TraceSource):
    """A house's flows with its battery and car run by set points (module docstring).

    Args:
        base: the house's flows without battery and car (daily periods; ``step_s``
            divides a slot).
        battery: its battery, or None.
        ev: its car, or None.
        seed: seeds the car's sessions (e.g. :func:`gridpeer.devices.house.house_seed`).
        utc_offset_h: the site's offset from UTC (sessions are in local time).
    """

    def __init__(
        self,
        base: TraceSource,
        battery: BatterySpec | None,
        ev: EvSpec | None = None,
        seed: int = 0,
        utc_offset_h: float = 0.0,
    ) -> None:
        if base.period_s != 86_400 or SLOT_S % base.step_s:
            raise ValueError("the flows' periods must be days and steps divide a slot")
        super().__init__(base.house, base.start, base.step_s, base.period_s)
        self.base = base
        self.battery = battery
        self.ev = ev
        self.seed = seed
        self.utc_offset_h = utc_offset_h
        self._points: dict[int, float] = {}  # absolute slot (ts // 900) → W, + discharge
        self._ev_points: dict[int, float] = {}  # absolute slot → W, + charging the car
        self._days: dict[int, HouseTrace] = {}
        self._end: dict[int, tuple[float, float]] = {}  # day → (battery SoC, car SoC)
        self._car_wh: dict[int, float] = {}  # day → the car's charging, Wh
        self._lock = threading.RLock()

    def sessions(self, day: date) -> EvSessions:
        """The car's sessions of UTC ``day`` (96 slots); raises without a car."""
        if self.ev is None:
            raise ValueError(f"house {self.house!r} has no car")
        return draw_sessions(self.ev.fleet(), day, self.seed, self.utc_offset_h)

    def set_points(
        self, points: Mapping[int, float], now: float, ev: Mapping[int, float] | None = None
    ) -> None:
        """Set the battery's power (``points``: UTC slot start s → W, + discharge) and the
        car's (``ev``: W, + charging) from the first slot starting at or after ``now``
        (earlier ones are ignored)."""
        first = -(-int(now) // SLOT_S)
        changed: list[int] = []
        with self._lock:
            for target, new in ((self._points, points), (self._ev_points, ev or {})):
                for ts, w in new.items():
                    s = ts // SLOT_S
                    if s >= first and target.get(s) != float(w):
                        target[s] = float(w)
                        changed.append(s)
            if changed:
                k = self.index(min(changed) * SLOT_S)
                for d in [d for d in self._days if d >= k]:
                    del self._days[d]
                for d in [d for d in self._end if d >= k]:
                    del self._end[d]
                for d in [d for d in self._car_wh if d >= k]:
                    del self._car_wh[d]

    def point(self, slot_ts: int) -> float | None:
        """The battery's set point of the slot starting at ``slot_ts`` (W), if any."""
        with self._lock:
            return self._points.get(slot_ts // SLOT_S)

    def ev_point(self, slot_ts: int) -> float | None:
        """The car's set point of the slot starting at ``slot_ts`` (W), if any."""
        with self._lock:
            return self._ev_points.get(slot_ts // SLOT_S)

    def is_cached(self, k: int) -> bool:
        """True if day ``k`` is computed for the current set points."""
        with self._lock:
            return k in self._days

    def load_wh_before(self, k: int) -> float:
        """The house's consumption before day ``k``, Wh (its car's charging included)."""
        total = self.base.load_wh_before(k)
        if self.ev is None:
            return total
        days = range(0, k) if k >= 0 else range(k, 0)
        with self._lock:
            car = 0.0
            for j in days:
                if j not in self._car_wh:
                    self.period(j)
                car += self._car_wh[j]
        return total + (car if k >= 0 else -car)

    def period(self, k: int) -> HouseTrace:
        """Day ``k`` with the battery and car run by their set points."""
        with self._lock:
            hit = self._days.get(k)
            if hit is not None:
                return hit
            if k > 0 and (k - 1) not in self._end:
                done = max((j for j in self._end if 0 <= j < k), default=-1)
                for j in range(done + 1, k):
                    self.period(j)
            start = (
                self.battery.soc_initial if self.battery else 0.0,
                self.ev.soc_initial if self.ev else 0.0,
            )
            soc0 = self._end.get(k - 1, start) if k > 0 else start
            trace = self._run(k, *soc0)
            car = trace.ev_soc
            self._end[k] = (float(trace.soc[-1]), float(car[-1]) if car is not None else 0.0)
            ev_w = trace.ev_w
            self._car_wh[k] = (
                float(np.sum(ev_w)) * self.step_s / 3600.0 if ev_w is not None else 0.0
            )
            self._days[k] = trace
            for old in [d for d in self._days if d < k - 3]:  # keep a few days' arrays
                del self._days[old]
            return trace

    def _car(self, k: int, soc0: float, steps: int) -> tuple[FloatArray, FloatArray]:
        """The car's power (W) and SoC per step of day ``k``."""
        ev = self.ev
        assert ev is not None
        fleet = ev.fleet()
        sess = self.sessions(self.start.date() + timedelta(days=k))
        dt = SLOT_S / 3600.0
        cap, eta = ev.capacity_wh, ev.efficiency
        e = np.array([soc0 * cap])
        first = (int(self.start.timestamp()) + k * self.period_s) // SLOT_S
        power = np.zeros(SLOTS)
        soc = np.zeros(SLOTS)
        for t in range(SLOTS):
            if sess.home[0, t]:
                room = max(0.0, cap - float(e[0])) / (eta * dt)
                want = self._ev_points.get(first + t)
                p = min(ev.charger_w, room) if want is None else want
                low = -min(ev.charger_w, float(e[0]) * eta / dt) if ev.v2g else 0.0
                power[t] = min(max(p, low), ev.charger_w, room)
            e, _ = step_energy(fleet, e, power[t : t + 1], sess.trip_wh[:, t], dt)
            soc[t] = float(e[0]) / cap
        per = steps // SLOTS
        return np.repeat(power, per), np.repeat(soc, per)

    def _run(self, k: int, soc0: float, car0: float) -> HouseTrace:
        base = self.base.period(k)
        n = len(base)
        load = base.load_w
        ev_w = ev_soc = None
        if self.ev is not None:
            ev_w, ev_soc = self._car(k, car0, n)
            load = load + ev_w
        bess = np.zeros(n)
        soc = np.zeros(n)
        volts = np.zeros(n)
        b = self.battery
        if b is not None:
            step_h = base.step_s / 3600.0
            eta = float(one_way_efficiency(b.round_trip_efficiency))
            cap = b.capacity_wh
            lo, hi = b.soc_min * cap, b.soc_max * cap
            e = min(max(soc0 * cap, lo), hi)
            t0 = int(self.start.timestamp()) + k * self.period_s
            slots = (t0 + np.arange(n) * base.step_s) // SLOT_S
            want = load - base.pv_w  # self-consumption: cover the net, + discharge
            for s in np.unique(slots):
                w = self._points.get(int(s))
                if w is not None:
                    want = np.where(slots == s, w, want)
            for i in range(n):
                p = float(want[i])
                if p >= 0.0:  # discharge
                    p = min(p, b.max_discharge_w, max(0.0, (e - lo) * eta / step_h))
                    e -= p * step_h / eta
                else:
                    c = min(-p, b.max_charge_w, max(0.0, (hi - e) / (eta * step_h)))
                    e += c * step_h * eta
                    p = -c
                e = min(max(e, lo), hi)
                bess[i] = p
                soc[i] = e / cap
            volts = np.asarray(terminal_voltage_v(b, soc, bess), dtype=np.float64)
        return HouseTrace(
            house=base.house,
            start=base.start,
            step_s=base.step_s,
            load_w=load,
            pv_w=base.pv_w,
            pv_v=base.pv_v,
            pv_i=base.pv_i,
            bess_w=bess,
            bess_v=volts,
            soc=soc,
            grid_w=load - base.pv_w - bess,
            mains_v=base.mains_v,
            ev_w=ev_w,
            ev_soc=ev_soc,
        )


ScheduledBattery = ScheduledHouse
"""The former name (a house with a scheduled battery)."""
