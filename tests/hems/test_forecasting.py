"""The live agent's forecaster: no look-ahead, persistence and SARIMA, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from gridpeer.hems.forecasting import SLOT_S, HouseForecaster

DAY0 = 1_736_121_600  # 2025-01-06 00:00 UTC


def _profile(k: int) -> tuple[float, float]:
    s = k % 96
    return max(0.0, 400.0 * np.sin(np.pi * (s - 28) / 48)), 150.0 + 50.0 * (s // 48)


def _fed(model: str, slots: int) -> HouseForecaster:
    f = HouseForecaster(model)
    for k in range(slots):
        f.observe(DAY0 + k * SLOT_S, *_profile(k))
    return f


@pytest.mark.parametrize("model", ["persistence", "sarima", "gbm"])
def test_periodic_house_is_forecast_exactly(model: str) -> None:
    f = _fed(model, 6 * 96)
    start = DAY0 + (6 * 96 + 40) * SLOT_S
    pv, load = f.forecast(start, start + 2 * SLOT_S)
    exp = [_profile(6 * 96 + 40), _profile(6 * 96 + 41)]
    tol = {"rel": 0.02} if model == "gbm" else {"abs": 1.0}  # trees approximate
    assert pv == pytest.approx(exp[0][0] + exp[1][0], **tol)
    assert load == pytest.approx(exp[0][1] + exp[1][1], **tol)


def test_no_look_ahead_and_window_checks() -> None:
    f = _fed("sarima", 5 * 96)
    start = DAY0 + (5 * 96 + 10) * SLOT_S
    before = f.forecast(start, start + SLOT_S)
    g = _fed("sarima", 5 * 96)
    g.hist[:, 5 * 96 :] = 9_999.0  # unobserved future slots never read
    assert g.forecast(start, start + SLOT_S) == before
    with pytest.raises(ValueError, match="before the last observed"):
        f.forecast(DAY0, DAY0 + SLOT_S)
    with pytest.raises(ValueError, match="more than a day"):
        f.forecast(start, start + 100 * SLOT_S)


def test_fallbacks_and_gaps() -> None:
    assert HouseForecaster().forecast(DAY0, DAY0 + SLOT_S) == (0.0, 0.0)
    f = _fed("sarima", 30)  # less than a day: the mean so far
    pv, load = f.forecast(DAY0 + 30 * SLOT_S, DAY0 + 31 * SLOT_S)
    assert load == pytest.approx(150.0)
    g = HouseForecaster("persistence")
    for k in range(2 * 96):
        if k != 96 + 5:  # a missed reading: taken from the day before
            g.observe(DAY0 + k * SLOT_S, *_profile(k))
    pv, load = g.forecast(DAY0 + 2 * 96 * SLOT_S + 5 * SLOT_S, DAY0 + (2 * 96 + 6) * SLOT_S)
    assert pv == pytest.approx(_profile(5)[0])


def test_history_rolls_over_days() -> None:
    f = HouseForecaster("persistence", days=2)
    for k in range(5 * 96):
        f.observe(DAY0 + k * SLOT_S, float(k), 1.0)
    assert f.first == DAY0 // SLOT_S + 3 * 96 and f.known == 2 * 96
    pv, _ = f.forecast(DAY0 + 5 * 96 * SLOT_S, DAY0 + (5 * 96 + 1) * SLOT_S)
    assert pv == float(4 * 96)
