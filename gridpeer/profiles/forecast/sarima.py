"""SARIMA(p,0,0)(0,1,0)₉₆ per house: an AR(p) on the day-over-day differences.

Model (slot ``t``, one day = 96 slots):  ``d_t = y_t − y_{t−96}``,
``d_t = φ₁ d_{t−1} + … + φ_p d_{t−p} + ε_t``. The coefficients φ are fitted per house by
conditional least squares (statsmodels ``OLS`` on the lagged differences: the estimator
of statsmodels ``AutoReg`` without trend, which the tests check it equals) on the last
``window_days`` of the house's own history, refitted every ``refit_days``; the forecast
``ŷ_{t+h} = y_{t+h−96} + d̂_{t+h}`` with ``d̂`` from the AR recursion is computed for
all houses at once with numpy. A house whose differences are constant (no PV, a
flat load) gets φ = 0, i.e. persistence. Forecasts are clipped at 0 (energy).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from gridpeer.profiles.forecast.base import F64, SLOTS_PER_DAY, check_args


def fit_ar(diffs: F64, p: int) -> F64:
    """AR(p) coefficients ``φ₁..φ_p`` of each row of ``diffs`` (houses, T), no trend, by
    conditional least squares (statsmodels OLS of ``d_t`` on ``d_{t−1} .. d_{t−p}``)."""
    from statsmodels.regression.linear_model import OLS
    from threadpoolctl import threadpool_limits

    out = np.zeros((diffs.shape[0], p))
    t = diffs.shape[1]
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, row in enumerate(diffs):
            if t <= 2 * p + 1 or float(np.std(row)) < 1e-9:
                continue
            lagged = np.column_stack([row[p - j : t - j] for j in range(1, p + 1)])
            params = np.asarray(OLS(row[p:], lagged).fit().params)
            if np.isfinite(params).all():
                out[i] = params
    return out


@dataclass
class Sarima:
    """SARIMA(p,0,0)(0,1,0)₉₆ forecaster (see the module docstring)."""

    name: str = "sarima"
    p: int = 2
    window_days: int = 7
    refit_days: int = 7
    min_history: int = 2 * SLOTS_PER_DAY
    _phi: F64 | None = field(default=None, repr=False)
    _fitted_at: int = field(default=-1, repr=False)
    fits: int = 0
    """Houses × refits done (each one statsmodels fit)."""

    def _refit_due(self, n: int, at: int) -> bool:
        phi = self._phi
        return (
            phi is None
            or phi.shape[0] != n
            or at < self._fitted_at
            or at - self._fitted_at >= self.refit_days * SLOTS_PER_DAY
        )

    def predict(
        self,
        history: F64,
        now: int,
        horizon: int,
        clear_sky: F64 | None = None,
        origin: int = 0,
    ) -> F64:
        """SARIMA forecast, Wh (see :class:`~gridpeer.profiles.forecast.Forecaster`)."""
        check_args(history, now, horizon, self.min_history)
        y = np.asarray(history[:, :now], dtype=np.float64)
        n = y.shape[0]
        if self._refit_due(n, origin + now):
            lo = max(0, now - self.window_days * SLOTS_PER_DAY)
            win = y[:, lo:]
            self._phi = fit_ar(win[:, SLOTS_PER_DAY:] - win[:, :-SLOTS_PER_DAY], self.p)
            self._fitted_at = origin + now
            self.fits += n
        phi = self._phi
        assert phi is not None
        p = self.p
        lags = y[:, now - p :] - y[:, now - p - SLOTS_PER_DAY : now - SLOTS_PER_DAY]
        out = np.empty((n, horizon))
        rev = phi[:, ::-1]  # φ_p .. φ_1, matching lags oldest .. newest
        for h in range(horizon):
            d = (rev * lags).sum(axis=1)
            lags = np.concatenate([lags[:, 1:], d[:, None]], axis=1)
            out[:, h] = y[:, now + h - SLOTS_PER_DAY] + d
        clipped: F64 = np.clip(out, 0.0, None)
        return clipped
