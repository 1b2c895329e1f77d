"""Forecast error metrics accumulated over a run: MAE, RMSE, skill vs persistence.

``MAE = Σ|f − a| / N``, ``RMSE = √(Σ(f − a)² / N)`` over every house and slot (Wh per
slot), and ``skill = 1 − RMSE / RMSE_persistence`` where persistence is yesterday's same
slot on the same (house, slot) pairs: 0 = no better than persistence, 1 = perfect,
negative = worse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F = npt.NDArray[np.floating] | npt.NDArray[np.integer]


@dataclass
class ForecastScore:
    """Running sums of forecast and persistence errors (Wh per slot)."""

    n: int = 0
    abs_err: float = 0.0
    sq_err: float = 0.0
    ref_abs_err: float = 0.0
    ref_sq_err: float = 0.0

    def add(self, forecast: F, actual: F, persistence: F) -> None:
        """Add a batch of (forecast, actual, persistence forecast) values, same shape."""
        e = np.asarray(forecast, dtype=np.float64) - actual
        r = np.asarray(persistence, dtype=np.float64) - actual
        self.n += e.size
        self.abs_err += float(np.abs(e).sum())
        self.sq_err += float(np.dot(e.ravel(), e.ravel()))
        self.ref_abs_err += float(np.abs(r).sum())
        self.ref_sq_err += float(np.dot(r.ravel(), r.ravel()))

    @property
    def mae(self) -> float:
        """Mean absolute error, Wh per slot (nan before any value)."""
        return self.abs_err / self.n if self.n else math.nan

    @property
    def rmse(self) -> float:
        """Root-mean-square error, Wh per slot (nan before any value)."""
        return math.sqrt(self.sq_err / self.n) if self.n else math.nan

    @property
    def persistence_rmse(self) -> float:
        """RMSE of persistence on the same values, Wh per slot."""
        return math.sqrt(self.ref_sq_err / self.n) if self.n else math.nan

    @property
    def skill(self) -> float:
        """``1 − RMSE / RMSE_persistence`` (nan when persistence is exact or no values)."""
        ref = self.persistence_rmse
        return 1.0 - self.rmse / ref if self.n and ref > 0 else math.nan

    def as_dict(self) -> dict[str, float]:
        """``{forecast_mae_wh, forecast_rmse_wh, persistence_rmse_wh, forecast_skill, ...}``."""
        return {
            "forecast_mae_wh": self.mae,
            "forecast_rmse_wh": self.rmse,
            "persistence_mae_wh": self.ref_abs_err / self.n if self.n else math.nan,
            "persistence_rmse_wh": self.persistence_rmse,
            "forecast_skill": self.skill,
            "forecast_values": float(self.n),
        }
