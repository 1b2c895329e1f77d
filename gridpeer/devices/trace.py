"""A house's simulated physical trace: what its devices do, step by step.

Produced by the device models (PV, battery dispatch, load) and consumed by the
simulated sensor nodes (telemetry), the delivery meters, the home agents and the
community simulator. Arrays are 1-D and of equal length, one value per step of
``step_s`` seconds.

A running demo needs a house's flows at *any* model time, day after day. Every consumer
reads them through one API, :class:`TraceSource`:

* :class:`DailyTraces`: each UTC day simulated lazily on first use (a different day each
  day: weather and loads depend on the date), cached, the battery's state of charge
  carried from one day to the next. Only the first day is simulated up front.
* :class:`RepeatingTrace`: one fixed trace repeated end to end (tests, replayed records).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_FIELDS = ("load_w", "pv_w", "pv_v", "pv_i", "bess_w", "bess_v", "soc", "grid_w", "mains_v")


@dataclass(frozen=True)
class HouseTrace:
    """Power flows of one house (all powers in W, averaged over each step).

    Attributes:
        house: house id (e.g. ``"h1"``).
        start: UTC time of the first step.
        step_s: step length in seconds.
        load_w: household consumption, W (>= 0).
        pv_w: PV production, W (>= 0); zeros for a consumer.
        pv_v: PV string voltage, V.
        pv_i: PV string current, A.
        bess_w: battery power, W, positive = discharge, negative = charge.
        bess_v: battery terminal voltage, V.
        soc: battery state of charge at the end of each step, 0..1.
        grid_w: net grid power, W, positive = import, negative = export.
        mains_v: mains voltage at the meter, V.
        ev_w: an EV's charging power, W (+ charging, − V2G), part of ``load_w``; None
            without a car.
        ev_soc: the EV's state of charge at the end of each step, 0..1 (None without).
    """

    house: str
    start: datetime
    step_s: int
    load_w: FloatArray
    pv_w: FloatArray
    pv_v: FloatArray
    pv_i: FloatArray
    bess_w: FloatArray
    bess_v: FloatArray
    soc: FloatArray
    grid_w: FloatArray
    mains_v: FloatArray
    ev_w: FloatArray | None = None
    ev_soc: FloatArray | None = None

    def __len__(self) -> int:
        return int(self.load_w.shape[0])


@dataclass(frozen=True)
class Point:
    """Where a moment falls in a source: the period's trace, the step index in it and the
    seconds elapsed since that step began."""

    trace: HouseTrace
    index: int
    into_step_s: float


class TraceSource(ABC):
    """A house's flows at any UTC time, as consecutive periods of one trace each.

    Period ``k`` covers ``[start + k * period_s, start + (k + 1) * period_s)``; ``k`` may be
    negative (before the start). Subclasses provide :meth:`period` and
    :meth:`load_wh_before`; the rest is shared. Thread-safe if the subclass is.
    """

    def __init__(self, house: str, start: datetime, step_s: int, period_s: int) -> None:
        self.house, self.start, self.step_s, self.period_s = house, start, step_s, period_s
        self._has: tuple[bool, bool] | None = None
        self._cum: dict[int, tuple[HouseTrace, FloatArray]] = {}

    @abstractmethod
    def period(self, k: int) -> HouseTrace:
        """The trace of period ``k`` (``period_s / step_s`` steps)."""

    @abstractmethod
    def load_wh_before(self, k: int) -> float:
        """Household consumption from ``start`` to the start of period ``k``, Wh
        (negative for ``k < 0``)."""

    @property
    def has_pv(self) -> bool:
        """True if the house has PV (judged on period 0, once)."""
        return self._devices()[0]

    @property
    def has_ev(self) -> bool:
        """True if the house has an EV charger (judged on period 0)."""
        return self.period(0).ev_w is not None

    @property
    def has_battery(self) -> bool:
        """True if the house has a battery (judged on period 0, once)."""
        return self._devices()[1]

    def _devices(self) -> tuple[bool, bool]:
        if self._has is None:
            t = self.period(0)
            pv = bool(np.any(t.pv_v > 0) or np.any(t.pv_w > 0))
            self._has = (pv, bool(np.any(t.bess_v > 0)))
        return self._has

    def index(self, ts: float) -> int:
        """Period index holding UTC POSIX time ``ts`` (s)."""
        return int((ts - self.start.timestamp()) // self.period_s)

    def locate(self, ts: float) -> Point:
        """The step holding UTC POSIX time ``ts`` (s)."""
        k, rem = divmod(ts - self.start.timestamp(), self.period_s)
        trace = self.period(int(k))
        idx = min(int(rem // self.step_s), len(trace) - 1)
        return Point(trace, idx, rem - idx * self.step_s)

    def meter_wh(self, ts: float) -> float:
        """Household consumption from ``start`` to UTC POSIX time ``ts``, Wh (a meter's
        lifetime counter; negative before ``start``)."""
        k = self.index(ts)
        p = self.locate(ts)
        within = float(self._cumulative_wh(p.trace)[p.index])
        step = float(p.trace.load_w[p.index]) * p.into_step_s / 3600.0
        return self.load_wh_before(k) + within + step

    def _cumulative_wh(self, trace: HouseTrace) -> FloatArray:
        """Consumption before each step of ``trace``, Wh (memoized for recent traces)."""
        memo = self._cum
        hit = memo.get(id(trace))
        if hit is not None and hit[0] is trace:
            return hit[1]
        cum = np.concatenate(([0.0], np.cumsum(trace.load_w * (trace.step_s / 3600.0))))
        if len(memo) >= 8:
            memo.clear()
        memo[id(trace)] = (trace, cum)
        return cum

    def span(self, start_ts: float, end_ts: float) -> HouseTrace:
        """The steps beginning in ``[start_ts, end_ts)`` (UTC POSIX s), as one trace that
        may cross period boundaries (e.g. midnight)."""
        t0 = self.start.timestamp()
        times = np.arange(start_ts, end_ts, self.step_s, dtype=np.float64)
        ks = np.floor((times - t0) / self.period_s).astype(np.int64)
        fields = _FIELDS + (("ev_w", "ev_soc") if self.has_ev else ())
        parts: dict[str, list[FloatArray]] = {f: [] for f in fields}
        for k in np.unique(ks):
            trace = self.period(int(k))
            rem = times[ks == k] - t0 - int(k) * self.period_s
            idx = np.minimum((rem // self.step_s).astype(np.int64), len(trace) - 1)
            for f in fields:
                parts[f].append(np.asarray(getattr(trace, f), dtype=np.float64)[idx])
        arrays = {f: np.concatenate(v) if v else np.zeros(0) for f, v in parts.items()}
        return HouseTrace(
            house=self.house,
            start=datetime.fromtimestamp(start_ts, UTC),
            step_s=self.step_s,
            **arrays,
        )


class RepeatingTrace(TraceSource):
    """One fixed trace repeated end to end (cumulative consumption keeps counting).

    Args:
        trace: the trace (non-empty, ``step_s > 0``).
    """

    def __init__(self, trace: HouseTrace) -> None:
        if len(trace) == 0 or trace.step_s <= 0:
            raise ValueError(f"trace of house {trace.house!r} is empty or has step_s <= 0")
        super().__init__(trace.house, trace.start, trace.step_s, len(trace) * trace.step_s)
        self.trace = trace
        self._total_wh = float(np.sum(trace.load_w)) * trace.step_s / 3600.0

    def period(self, k: int) -> HouseTrace:
        """The trace itself, whatever ``k``."""
        return self.trace

    def load_wh_before(self, k: int) -> float:
        """``k`` times the trace's consumption, Wh."""
        return k * self._total_wh


DaySimulator = Callable[[date, float | None], HouseTrace]
"""``f(day, soc0)``: one UTC day of a house (midnight to midnight), its battery starting
at state of charge ``soc0`` (0..1; ``None`` = the battery's configured initial SoC)."""


class DailyTraces(TraceSource):
    """A house's days, each simulated on first use and cached.

    Day ``k`` is ``first + k`` days. The battery's SoC at the end of day ``k`` is the start
    SoC of day ``k + 1`` (days after ``first`` are simulated in order for that; days before
    ``first`` start from the configured SoC). Only the last ``keep`` days' arrays are
    kept; the per-day consumption totals and end SoCs are kept for the whole run.
    Thread-safe (one lock per house; a day is simulated once).

    Args:
        house: house id.
        first: the first day (UTC).
        simulate: ``f(day, soc0)`` → that day's trace (step ``step_s``, 86,400 s long).
        step_s: step length, s (divides a day).
        keep: days of arrays kept in memory (>= 2).
    """

    def __init__(
        self, house: str, first: date, simulate: DaySimulator, step_s: int = 60, keep: int = 4
    ) -> None:
        if step_s <= 0 or 86_400 % step_s:
            raise ValueError(f"step_s must divide a day, got {step_s}")
        super().__init__(
            house, datetime(first.year, first.month, first.day, tzinfo=UTC), step_s, 86_400
        )
        self.first = first
        self._simulate = simulate
        self._keep = max(2, keep)
        self._cache: OrderedDict[int, HouseTrace] = OrderedDict()
        self._load_wh: dict[int, float] = {}
        self._end_soc: dict[int, float] = {}
        self._lock = threading.RLock()

    def is_cached(self, k: int) -> bool:
        """True if day ``k``'s arrays are in memory (reading it costs nothing)."""
        with self._lock:
            return k in self._cache

    def period(self, k: int) -> HouseTrace:
        """Day ``k`` (simulating it, and the days from ``first`` up to it, if needed)."""
        with self._lock:
            hit = self._cache.get(k)
            if hit is not None:
                self._cache.move_to_end(k)
                return hit
            if k > 0 and (k - 1) not in self._end_soc:
                done = max((j for j in self._end_soc if j >= 0), default=-1)
                for j in range(done + 1, k):  # in order: each day starts at the last's SoC
                    self.period(j)
            soc0 = self._end_soc.get(k - 1) if k > 0 else None
            trace = self._simulate(self.first + timedelta(days=k), soc0)
            if len(trace) * trace.step_s != 86_400 or trace.step_s != self.step_s:
                raise ValueError(f"day {k} of {self.house!r} is not one day at {self.step_s} s")
            self._load_wh[k] = float(np.sum(trace.load_w)) * self.step_s / 3600.0
            self._end_soc[k] = float(trace.soc[-1])
            self._cache[k] = trace
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
            return trace

    def load_wh_before(self, k: int) -> float:
        """Consumption from the first day's midnight to day ``k``'s, Wh."""
        with self._lock:
            days = range(0, k) if k >= 0 else range(k, 0)
            for j in days:
                if j not in self._load_wh:
                    self.period(j)
            total = sum(self._load_wh[j] for j in days)
            return total if k >= 0 else -total


def as_source(trace: HouseTrace | TraceSource) -> TraceSource:
    """``trace`` itself if it is a source, else the fixed trace repeated."""
    return trace if isinstance(trace, TraceSource) else RepeatingTrace(trace)
