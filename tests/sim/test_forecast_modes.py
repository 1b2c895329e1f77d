"""The simulator with fitted forecasts (SARIMA, gradient boosting): scored, no look-ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gridpeer.sim.engine import Simulation, make_config, simulate
from gridpeer.sim.report import write_report
from gridpeer.sim.scenario import Scenario, load_scenario

LAB = load_scenario("village-100")


def _with(sc: Scenario, forecast: str) -> Scenario:
    return sc.model_copy(update={"strategy": sc.strategy.model_copy(update={"forecast": forecast})})


@pytest.mark.parametrize("forecast", ["sarima", "gbm"])
def test_fitted_forecasts_trade_and_are_scored(forecast: str, tmp_path: Path) -> None:
    r = simulate(make_config(_with(LAB, forecast), "uniform", houses=12, days=4, seed=2))
    h = r.ledger.house
    assert (h["p2p_sold_wh"] <= h["contracted_sold_wh"]).all()
    assert h["contracted_bought_wh"].sum() > h["p2p_bought_wh"].sum() > 0
    assert r.forecast is not None
    assert r.forecast["forecast_values"] == 12 * 96 * 3  # days 2..4
    assert 0 < r.forecast["forecast_mae_wh"] <= r.forecast["forecast_rmse_wh"]
    write_report(r, tmp_path)
    md = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert f"## Forecast ({forecast})" in md and "forecast_skill" in md
    assert "forecast_skill," in (tmp_path / "forecast.csv").read_text(encoding="utf-8")


def test_perfect_forecast_scores_perfectly() -> None:
    r = simulate(make_config(_with(LAB, "perfect"), "uniform", houses=5, days=2, seed=1))
    assert r.forecast is not None
    assert r.forecast["forecast_mae_wh"] == 0.0 and r.forecast["forecast_skill"] == 1.0


def _data_scenario(tmp_path: Path, name: str, bump_day: int | None) -> Scenario:
    """Two data houses from a 6-day watts file; ``bump_day`` multiplies one day's load."""
    t0 = int(np.datetime64("2025-01-06", "s").astype(np.int64))
    rng = np.random.default_rng(4)
    lines = ["timestamp,watts"]
    for k in range(6 * 96):
        w = 300 + 200 * np.sin(k / 96 * 2 * np.pi) + rng.uniform(0, 100)
        if bump_day is not None and k // 96 == bump_day:
            w *= 3
        lines.append(f"{t0 + k * 900},{w:.1f}")
    folder = tmp_path / name
    folder.mkdir()
    (folder / "d.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "s.toml").write_text(
        """
name = "lookahead"
houses = 4
[site]
latitude = -33.0
longitude = -71.6
[tariff]
import_price = 0.2
feed_in_price = 0.1
[strategy]
forecast = "sarima"
[[households]]
name = "data"
share = 0.5
data = "d.csv"
[[households]]
name = "pv"
share = 0.5
pv_kwp = 3.0
""",
        encoding="utf-8",
    )
    return load_scenario(str(folder / "s.toml"))


def test_engine_forecasts_never_see_the_future(tmp_path: Path) -> None:
    runs = []
    for name, bump in (("plain", None), ("bumped", 4)):
        sim = Simulation(make_config(_data_scenario(tmp_path, name, bump), days=6, seed=0))
        sim.record_forecasts = True
        sim.run()
        runs.append(sim.day_forecasts)
    plain, bumped = runs
    data = np.flatnonzero(
        Simulation(make_config(_data_scenario(tmp_path, "x", None))).pop.group == 0
    )
    for d in range(5):  # days 1..5 are forecast before day 5 (index 4) is seen
        np.testing.assert_array_equal(plain[d][1], bumped[d][1])
    assert not np.array_equal(plain[5][1][data], bumped[5][1][data])  # day 6 saw it
