"""SARIMA(p,0,0)(P,1,0)₉₆ per house: an AR on the day-over-day differences.

Model (slot ``t``, one day S = 96 slots):  ``d_t = y_t − y_{t−S}``,
``d_t = φ₁ d_{t−1} + … + φ_p d_{t−p} + Φ₁ d_{t−S} + … + Φ_P d_{t−PS} + ε_t``
(the seasonal AR in additive, subset form: no cross terms φ·Φ). The coefficients are
fitted per house by conditional least squares (statsmodels ``OLS`` on the lagged
differences: the estimator of statsmodels ``AutoReg(lags=[1..p, S..PS], trend="n")``,
which the tests check it equals) on the last ``window_days`` of the house's own
history, refitted every ``refit_days``. The forecast ``ŷ_{t+h} = y_{t+h−S} + d̂_{t+h}``
runs the recursion for all houses at once with numpy (seasonal lags within the day
ahead are known values). With P ≥ 1 the day-ahead forecast blends the last days
(for daily noise Φ₁ ≈ −0.5 gives about the mean of the last two days), which is where it
beats persistence. A house whose differences are constant gets all-zero coefficients,
i.e. persistence. Forecasts are clipped at 0 (energy).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from gridpeer.profiles.forecast.base import F64, SLOTS_PER_DAY, check_args

S = SLOTS_PER_DAY


def ar_lags(p: int, seasonal: int) -> list[int]:
    """The AR lags of the differenced series: ``1..p`` then ``S, 2S, .. seasonal·S``."""
    return [*range(1, p + 1), *(S * k for k in range(1, seasonal + 1))]


def fit_ar(diffs: F64, lags: list[int]) -> F64:
    """Coefficients of ``d_t`` on ``d_{t−lag}`` for each row of ``diffs`` (houses, T), no
    trend, by conditional least squares (statsmodels OLS), in ``lags`` order."""
    from statsmodels.regression.linear_model import OLS
    from threadpoolctl import threadpool_limits

    out = np.zeros((diffs.shape[0], len(lags)))
    t = diffs.shape[1]
    top = max(lags)
    if t <= top + 2 * len(lags):
        return out
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, row in enumerate(diffs):
            if float(np.std(row)) < 1e-9:
                continue
            design = np.column_stack([row[top - lag : t - lag] for lag in lags])
            params = np.asarray(OLS(row[top:], design).fit().params)
            if np.isfinite(params).all():
                out[i] = params
    return out


@dataclass
class Sarima:
    """SARIMA(p,0,0)(P,1,0)₉₆ forecaster (see the module docstring)."""

    name: str = "sarima"
    p: int = 2
    seasonal: int = 2
    window_days: int = 8
    refit_days: int = 7
    min_history: int = 4 * S
    _coef: F64 | None = field(default=None, repr=False)
    _fitted_at: int = field(default=-1, repr=False)
    fits: int = 0
    """Houses × refits done (each one statsmodels fit)."""

    def _refit_due(self, n: int, at: int) -> bool:
        coef = self._coef
        return (
            coef is None
            or coef.shape[0] != n
            or at < self._fitted_at
            or at - self._fitted_at >= self.refit_days * S
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
        lags = ar_lags(self.p, self.seasonal)
        if self._refit_due(n, origin + now):
            lo = max(0, now - self.window_days * S)
            win = y[:, lo:]
            self._coef = fit_ar(win[:, S:] - win[:, :-S], lags)
            self._fitted_at = origin + now
            self.fits += n
        coef = self._coef
        assert coef is not None
        d = np.empty((n, now - S + horizon))
        d[:, : now - S] = y[:, S:] - y[:, :-S]
        out = np.empty((n, horizon))
        for h in range(horizon):
            k = now - S + h  # index of d_{now+h}
            d[:, k] = sum(coef[:, j] * d[:, k - lag] for j, lag in enumerate(lags))
            out[:, h] = y[:, now + h - S] + d[:, k]
        clipped: F64 = np.clip(out, 0.0, None)
        return clipped
