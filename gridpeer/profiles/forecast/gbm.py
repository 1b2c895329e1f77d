"""Gradient-boosted trees per house (scikit-learn ``HistGradientBoostingRegressor``).

Each house gets its own model, trained on its own last ``window_days`` of history and
refitted every ``refit_days``, that predicts slot ``t`` from features known a day ahead:
the slot of the day, ``y_{t−96}``, ``y_{t−97}``, ``y_{t−98}``, ``y_{t−192}`` and the mean of
the 96 slots ending at ``t−96``. A house whose history is constant is forecast as that
constant. Forecasts are clipped at 0 (energy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridpeer.profiles.forecast.base import F64, SLOTS_PER_DAY, check_args

S = SLOTS_PER_DAY
LAGS = (S, S + 1, S + 2, 2 * S)


def features(y: F64, targets: np.ndarray[Any, np.dtype[np.int64]], origin: int) -> F64:
    """Feature rows for target slots ``targets`` of one house's series ``y`` (Wh)."""
    cum = np.concatenate([[0.0], np.cumsum(y)])
    cols = [((origin + targets) % S).astype(np.float64)]
    cols += [y[targets - k] for k in LAGS]
    cols.append((cum[targets - S + 1] - cum[targets - 2 * S + 1]) / S)
    return np.stack(cols, axis=1)


@dataclass
class GradientBoosting:
    """Per-house gradient-boosting forecaster (see the module docstring)."""

    name: str = "gbm"
    window_days: int = 14
    refit_days: int = 7
    max_iter: int = 50
    min_history: int = 3 * SLOTS_PER_DAY
    _models: list[Any] = field(default_factory=list, repr=False)
    _fitted_at: int = field(default=-1, repr=False)
    fits: int = 0

    def _fit(self, y: F64, now: int, origin: int) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        lo = max(2 * S, now - self.window_days * S)
        targets = np.arange(lo, now, dtype=np.int64)
        self._models = []
        with threadpool_limits(1):
            for row in y:
                recent = row[max(0, now - self.window_days * S) : now]
                if float(np.ptp(recent)) < 1e-9:
                    self._models.append(float(row[now - 1]))
                    continue
                model = HistGradientBoostingRegressor(
                    max_iter=self.max_iter, max_leaf_nodes=15, early_stopping=False
                )
                model.fit(features(row, targets, origin), row[targets])
                self._models.append(model)
        self.fits += y.shape[0]

    def predict(
        self,
        history: F64,
        now: int,
        horizon: int,
        clear_sky: F64 | None = None,
        origin: int = 0,
    ) -> F64:
        """Gradient-boosting forecast, Wh (see :class:`~gridpeer.profiles.forecast.Forecaster`)."""
        check_args(history, now, horizon, self.min_history)
        y = np.asarray(history[:, :now], dtype=np.float64)
        at = origin + now
        if (
            len(self._models) != y.shape[0]
            or at < self._fitted_at
            or at - self._fitted_at >= self.refit_days * S
        ):
            self._fit(y, now, origin)
            self._fitted_at = at
        # the forecast slots' features need y up to now - 1 only (lags >= 96 slots)
        ext = np.concatenate([y, np.zeros((y.shape[0], horizon))], axis=1)
        targets = np.arange(now, now + horizon, dtype=np.int64)
        out = np.empty((y.shape[0], horizon))
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            for i, model in enumerate(self._models):
                if isinstance(model, float):
                    out[i] = model
                else:
                    out[i] = model.predict(features(ext[i], targets, origin))
        clipped: F64 = np.clip(out, 0.0, None)
        return clipped
