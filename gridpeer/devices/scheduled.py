"""A house whose battery follows a schedule: the live MPC agent's physical battery.

:class:`ScheduledBattery` is a :class:`~gridpeer.devices.trace.TraceSource` over a house's
flows *without* a battery (its PV and load, day after day) plus a battery that, in each
15-minute UTC slot with a set point, runs at that power, and otherwise runs the usual
self-consumption rule (charge from surplus, discharge to cover the deficit). Either way
the battery stays within its power limits and its SoC window: a set point it cannot
follow is clipped step by step (``step_s`` of the underlying flows). The grid takes the
rest, so every step balances: ``load = pv + bess + grid`` (W; bess + discharge, grid +
import).

Set points come from the home agent (:meth:`ScheduledBattery.set_points`); they may only
change slots that have not started (readings already sent never change). A day's trace
is recomputed when its set points change; the SoC carries over midnight.
Units: W, Wh, SoC 0..1, times UTC unix seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np

from gridpeer.devices.battery import BatterySpec, one_way_efficiency, terminal_voltage_v
from gridpeer.devices.trace import HouseTrace, TraceSource

SLOT_S = 900


class ScheduledBattery(TraceSource):
    """A house's flows with a battery run by set points (see the module docstring).

    Args:
        base: the house's flows without a battery (daily periods, ``step_s`` dividing
            a slot).
        battery: the battery.
    """

    def __init__(self, base: TraceSource, battery: BatterySpec) -> None:
        if base.period_s % SLOT_S or SLOT_S % base.step_s:
            raise ValueError("the flows' periods must be whole slots and steps divide a slot")
        super().__init__(base.house, base.start, base.step_s, base.period_s)
        self.base = base
        self.battery = battery
        self._points: dict[int, float] = {}  # absolute slot (ts // 900) → W, + discharge
        self._days: dict[int, HouseTrace] = {}
        self._end_soc: dict[int, float] = {}
        self._lock = threading.RLock()

    def set_points(self, points: Mapping[int, float], now: float) -> None:
        """Set the battery's power for slots (UTC slot start s → W, + discharge), from the
        first slot starting at or after ``now`` (earlier ones are ignored)."""
        first = -(-int(now) // SLOT_S)
        new = {ts // SLOT_S: float(w) for ts, w in points.items() if ts // SLOT_S >= first}
        if not new:
            return
        with self._lock:
            changed = [s for s, w in new.items() if self._points.get(s) != w]
            self._points.update(new)
            if changed:
                k = self.index(min(changed) * SLOT_S)
                for d in [d for d in self._days if d >= k]:
                    del self._days[d]
                for d in [d for d in self._end_soc if d >= k]:
                    del self._end_soc[d]

    def point(self, slot_ts: int) -> float | None:
        """The set point of the slot starting at ``slot_ts`` (W, + discharge), if any."""
        with self._lock:
            return self._points.get(slot_ts // SLOT_S)

    def is_cached(self, k: int) -> bool:
        """True if day ``k`` is computed for the current set points."""
        with self._lock:
            return k in self._days

    def load_wh_before(self, k: int) -> float:
        """The house's consumption before day ``k``, Wh (the battery does not change it)."""
        return self.base.load_wh_before(k)

    def period(self, k: int) -> HouseTrace:
        """Day ``k`` with the battery run by its set points."""
        with self._lock:
            hit = self._days.get(k)
            if hit is not None:
                return hit
            if k > 0 and (k - 1) not in self._end_soc:
                done = max((j for j in self._end_soc if 0 <= j < k), default=-1)
                for j in range(done + 1, k):
                    self.period(j)
            soc0 = self._end_soc.get(k - 1, self.battery.soc_initial) if k > 0 else None
            trace = self._run(k, self.battery.soc_initial if soc0 is None else soc0)
            self._end_soc[k] = float(trace.soc[-1])
            self._days[k] = trace
            for old in [d for d in self._days if d < k - 3]:  # keep a few days' arrays
                del self._days[old]
            return trace

    def _run(self, k: int, soc0: float) -> HouseTrace:
        b = self.battery
        base = self.base.period(k)
        step_h = base.step_s / 3600.0
        eta = float(one_way_efficiency(b.round_trip_efficiency))
        cap = b.capacity_wh
        lo, hi = b.soc_min * cap, b.soc_max * cap
        e = min(max(soc0 * cap, lo), hi)
        n = len(base)
        t0 = int(self.start.timestamp()) + k * self.period_s
        slots = (t0 + np.arange(n) * base.step_s) // SLOT_S
        want = base.load_w - base.pv_w  # self-consumption: cover the net, + discharge
        for s in np.unique(slots):
            w = self._points.get(int(s))
            if w is not None:
                want = np.where(slots == s, w, want)
        bess = np.zeros(n)
        soc = np.zeros(n)
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
        return HouseTrace(
            house=base.house,
            start=base.start,
            step_s=base.step_s,
            load_w=base.load_w,
            pv_w=base.pv_w,
            pv_v=base.pv_v,
            pv_i=base.pv_i,
            bess_w=bess,
            bess_v=np.asarray(terminal_voltage_v(b, soc, bess), dtype=np.float64),
            soc=soc,
            grid_w=base.load_w - base.pv_w - bess,
            mains_v=base.mains_v,
            ev_w=base.ev_w,
            ev_soc=base.ev_soc,
        )
