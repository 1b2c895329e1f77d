"""A live home agent's own forecast of its PV and load (the simulator's models).

:class:`HouseForecaster` keeps a rolling per-slot history of one house's metered PV and
load (15-minute UTC slots, Wh) as readings arrive and forecasts a coming delivery window
with a model of :mod:`gridpeer.profiles.forecast` (``persistence``, ``sarima``, ``gbm``),
the same code the simulator's agents use. Only slots before the last observed one are
ever read (nothing from the future); with too little history it falls back to
persistence, and with less than a day to the house's mean slot so far. Units: Wh per
slot, times UTC unix seconds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gridpeer.profiles.forecast import SLOTS_PER_DAY, Forecaster, make_forecaster

SLOT_S = 900
F64 = npt.NDArray[np.float64]


class HouseForecaster:
    """Rolling history and day-ahead forecasts of one house (see the module docstring)."""

    def __init__(self, model: str = "sarima", days: int = 14) -> None:
        if days < 2:
            raise ValueError(f"days must be >= 2, got {days}")
        self.models: tuple[Forecaster, Forecaster] = (
            make_forecaster(model),
            make_forecaster(model),
        )
        self.width = days * SLOTS_PER_DAY
        self.hist = np.full((2, self.width), np.nan)  # PV, load
        self.first = -1  # absolute slot of hist[:, 0] (a day's first slot)
        self.known = 0  # slots up to (and including) the last observed one

    def observe(self, ts: int, pv_wh: float, load_wh: float) -> None:
        """Record the metered energy of the slot starting at ``ts`` (Wh)."""
        slot = ts // SLOT_S
        if self.first < 0:
            self.first = slot - slot % SLOTS_PER_DAY
        k = slot - self.first
        if k < 0:
            return  # older than the history kept
        while k >= self.width:  # drop the oldest day
            self.hist[:, :-SLOTS_PER_DAY] = self.hist[:, SLOTS_PER_DAY:]
            self.hist[:, -SLOTS_PER_DAY:] = np.nan
            self.first += SLOTS_PER_DAY
            k -= SLOTS_PER_DAY
            self.known = max(0, self.known - SLOTS_PER_DAY)
        self.hist[:, k] = (pv_wh, load_wh)
        self.known = max(self.known, k + 1)

    def _filled(self) -> F64:
        """History up to ``known`` with gaps taken from the day before (else the mean)."""
        h = self.hist[:, : self.known].copy()
        for k in range(h.shape[1]):
            gap = np.isnan(h[:, k])
            if gap.any():
                prev = h[:, k - SLOTS_PER_DAY] if k >= SLOTS_PER_DAY else np.full(2, np.nan)
                h[gap, k] = prev[gap]
        seen = (~np.isnan(h)).sum(axis=1)
        means = np.nansum(h, axis=1) / np.maximum(seen, 1)
        out: F64 = np.where(np.isnan(h), means[:, None], h)
        return out

    def forecast(self, start: int, end: int) -> tuple[float, float]:
        """Forecast PV and load of the window ``[start, end)`` (UTC s, slot-aligned,
        within the 96 slots after the last observation), Wh."""
        if self.first < 0:
            return 0.0, 0.0
        slots = -(-end // SLOT_S) - start // SLOT_S
        pv, load = self.forecast_slots(start, slots)
        return float(pv.sum()), float(load.sum())

    def horizon(self, start: int) -> int:
        """How many slots from ``start`` (UTC s) can be forecast: up to a day after the
        last observation (0 if nothing was observed yet)."""
        if self.first < 0:
            return 0
        return max(0, SLOTS_PER_DAY - (start // SLOT_S - self.first - self.known))

    def forecast_slots(self, start: int, slots: int) -> tuple[F64, F64]:
        """Forecast PV and load of each of ``slots`` slots from ``start`` (UTC s), Wh per
        slot (within the 96 slots after the last observation; zeros before any)."""
        if self.first < 0:
            return np.zeros(slots), np.zeros(slots)
        first = start // SLOT_S - self.first
        last = first + slots
        now = self.known
        if first < now:
            raise ValueError("the window starts before the last observed slot")
        if last - now > SLOTS_PER_DAY:
            raise ValueError("the window ends more than a day after the last observation")
        h = self._filled()
        pv_model, load_model = self.models
        horizon = last - now
        origin = self.first
        if now >= max(pv_model.min_history, load_model.min_history):
            pv = pv_model.predict(h[0:1], now, horizon, origin=origin)[0]
            load = load_model.predict(h[1:2], now, horizon, origin=origin)[0]
        elif now >= SLOTS_PER_DAY:
            idx = np.arange(now, last) - SLOTS_PER_DAY
            pv, load = h[0, idx], h[1, idx]
        else:
            mean = h.mean(axis=1) if now else np.zeros(2)
            pv, load = np.full(horizon, mean[0]), np.full(horizon, mean[1])
        sel = slice(first - now, last - now)
        out_pv: F64 = np.asarray(pv[sel], dtype=np.float64)
        out_load: F64 = np.asarray(load[sel], dtype=np.float64)
        return out_pv, out_load
