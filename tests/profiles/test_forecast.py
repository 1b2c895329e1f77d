"""Forecast models of the profiles layer: no look-ahead, correctness, metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.profiles.forecast import (
    MODELS,
    ClearSky,
    ForecastScore,
    GradientBoosting,
    Persistence,
    Sarima,
    make_forecaster,
)

S = 96


def _series(houses: int, days: int, seed: int, ar: float = 0.9, noise: float = 60.0) -> np.ndarray:
    """PV-like bell plus a base load and AR(1) deviations, Wh per slot, >= 0."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * S)
    bell = np.clip(np.sin(np.pi * ((t % S) - 28) / 48), 0, None) * 500
    x = np.zeros((houses, t.size))
    e = rng.standard_normal((houses, t.size)) * noise
    for k in range(1, t.size):
        x[:, k] = ar * x[:, k - 1] + e[:, k]
    scale = rng.uniform(0.5, 1.5, (houses, 1))
    return np.clip(bell * scale + 150 + x, 0, None)


def _clear(houses: int) -> np.ndarray:
    return np.full((houses, S), 400.0)


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=3, deadline=None)
@given(
    now_day=st.integers(min_value=5, max_value=7),
    offset=st.sampled_from([0, 37]),
    seed=st.integers(0, 1000),
)
def test_no_look_ahead(name: str, now_day: int, offset: int, seed: int) -> None:
    history = _series(3, 9, 1)
    now = now_day * S + offset
    base = make_forecaster(name).predict(history, now, S, _clear(3))
    perturbed = history.copy()
    rng = np.random.default_rng(seed)
    perturbed[:, now:] = rng.uniform(0, 5000, perturbed[:, now:].shape)  # the future
    again = make_forecaster(name).predict(perturbed, now, S, _clear(3))
    np.testing.assert_array_equal(base, again)
    # and a model already fitted on the past keeps ignoring the future
    model = make_forecaster(name)
    model.predict(history, now - 50, S, _clear(3))
    np.testing.assert_array_equal(
        model.predict(perturbed, now, S, _clear(3)), model.predict(history, now, S, _clear(3))
    )
    assert base.shape == (3, S) and (base >= 0).all()


def test_persistence_is_yesterday() -> None:
    h = _series(2, 3, 0)
    np.testing.assert_array_equal(Persistence().predict(h, 2 * S + 5, 10), h[:, S + 5 : S + 15])


def test_clear_sky_needs_its_array() -> None:
    h = _series(2, 1, 0)
    np.testing.assert_allclose(ClearSky().predict(h, 0, S, _clear(2)), 320.0)
    with pytest.raises(ValueError, match="clear_sky"):
        ClearSky().predict(h, 0, S)


def test_bad_arguments() -> None:
    h = _series(1, 3, 0)
    with pytest.raises(ValueError, match="horizon"):
        Persistence().predict(h, 2 * S, 97)
    with pytest.raises(ValueError, match="history"):
        Sarima().predict(h, 2 * S, 4)
    with pytest.raises(ValueError, match="unknown forecast model"):
        make_forecaster("oracle")


def test_sarima_matches_statsmodels() -> None:
    from statsmodels.tsa.ar_model import AutoReg

    h = _series(1, 9, 3)
    now = 9 * S
    f = Sarima(p=2, seasonal=2).predict(h, now, S)
    y = h[0, now - 8 * S : now]
    d = y[S:] - y[:-S]
    res = AutoReg(d, lags=[1, 2, S, 2 * S], trend="n").fit()
    dhat = res.predict(start=d.size, end=d.size + S - 1)
    expected = np.clip(h[0, now - S : now] + dhat, 0, None)
    np.testing.assert_allclose(f[0], expected, rtol=1e-9, atol=1e-6)


def test_sarima_on_a_periodic_series_is_persistence() -> None:
    h = np.tile(np.linspace(0, 500, S), (2, 5))
    np.testing.assert_allclose(Sarima().predict(h, 5 * S, S), h[:, :S])


def _skill(model: object, h: np.ndarray, horizon: int) -> float:
    score = ForecastScore()
    for day in range(4, 9):
        now = day * S
        f = model.predict(h, now, horizon)  # type: ignore[attr-defined]
        score.add(f, h[:, now : now + horizon], h[:, now - S : now - S + horizon])
    return score.skill


def test_sarima_beats_persistence_on_autocorrelated_deviations() -> None:
    h = _series(4, 9, 5, ar=0.95)
    assert _skill(Sarima(), h, 8) > 0.3


def test_sarima_beats_persistence_day_ahead_on_noisy_days() -> None:
    h = _series(3, 12, 6, ar=0.0, noise=80.0)
    score = ForecastScore()
    for day in range(6, 12):
        now = day * S
        score.add(Sarima().predict(h, now, S), h[:, now : now + S], h[:, now - S : now])
    assert score.skill > 0.1


def test_gbm_beats_persistence_on_noisy_days() -> None:
    h = _series(3, 9, 6, ar=0.0, noise=80.0)  # iid noise: persistence doubles its variance
    assert _skill(GradientBoosting(), h, S) > 0.1


def test_score_metrics() -> None:
    s = ForecastScore()
    assert math.isnan(s.mae) and math.isnan(s.skill)
    s.add(np.array([1.0, 3.0]), np.array([0.0, 0.0]), np.array([2.0, 2.0]))
    assert s.mae == 2.0
    assert s.rmse == pytest.approx(math.sqrt(5.0))
    assert s.persistence_rmse == 2.0
    assert s.skill == pytest.approx(1 - math.sqrt(5.0) / 2.0)
    assert s.as_dict()["forecast_values"] == 2.0
