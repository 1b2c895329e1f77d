"""Baselines: persistence (yesterday's same slot) and derated clear-sky PV."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridpeer.profiles.forecast.base import F64, SLOTS_PER_DAY, check_args


@dataclass
class Persistence:
    """Seasonal naive forecast: slot ``t`` equals slot ``t - 96`` (same slot yesterday)."""

    name: str = "persistence"
    min_history: int = SLOTS_PER_DAY

    def predict(
        self,
        history: F64,
        now: int,
        horizon: int,
        clear_sky: F64 | None = None,
        origin: int = 0,
    ) -> F64:
        """Yesterday's same slots, Wh (see :class:`~gridpeer.profiles.forecast.Forecaster`)."""
        check_args(history, now, horizon, self.min_history)
        start = now - SLOTS_PER_DAY
        out: F64 = np.asarray(history[:, start : start + horizon], dtype=np.float64).copy()
        return out


@dataclass
class ClearSky:
    """PV forecast as ``derate`` × clear-sky PV (0.8: typical mean clear-sky index)."""

    name: str = "clear-sky"
    min_history: int = 0
    derate: float = 0.8

    def predict(
        self,
        history: F64,
        now: int,
        horizon: int,
        clear_sky: F64 | None = None,
        origin: int = 0,
    ) -> F64:
        """``derate`` × ``clear_sky``, Wh; raises ValueError without ``clear_sky``."""
        check_args(history, now, horizon, self.min_history)
        if clear_sky is None or clear_sky.shape != (history.shape[0], horizon):
            raise ValueError("the clear-sky model needs clear_sky of shape (houses, horizon)")
        out: F64 = np.asarray(clear_sky, dtype=np.float64) * self.derate
        return out
