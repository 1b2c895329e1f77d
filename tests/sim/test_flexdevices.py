"""EVs, heat pumps, wind and hydro in community runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gridpeer.sim.engine import SimResult, make_config, simulate
from gridpeer.sim.report import write_report
from gridpeer.sim.scenario import Scenario, parse_scenario

FLEX = """
name = "flex"
houses = 10
[site]
latitude = 50.0
longitude = 8.0
utc_offset_h = 1
[tariff]
import_price = 0.3
feed_in_price = 0.08
[calendar]
start = 2025-01-06
[[households]]
name = "pv-battery"
share = 0.3
pv_kwp = 5.0
battery_wh = 8000
[[households]]
name = "ev"
share = 0.2
pv_kwp = 3.0
ev_kwh = 50
ev_charger_kw = 11
[[households]]
name = "heat-pump"
share = 0.2
heat_pump_kw = 8
heat_loss_w_per_k = 180
[[households]]
name = "wind"
share = 0.1
wind_kw = 10
[[households]]
name = "hydro"
share = 0.1
hydro_kw = 5
hydro_head_m = 12
[[households]]
name = "plain"
share = 0.1
"""


def _scenario() -> Scenario:
    return parse_scenario(FLEX)


def _run(seed: int = 1, days: int = 3) -> SimResult:
    return simulate(make_config(_scenario(), "uniform", days=days, seed=seed))


def test_devices_energy_in_the_ledger_and_balance() -> None:
    r = _run()
    h, dev, pop = r.ledger.house, r.ledger.devices, r.population
    sources = h["pv_wh"] + h["discharge_wh"] + h["import_wh"] + h["p2p_bought_wh"]
    sinks = h["load_wh"] + h["charge_wh"] + h["export_wh"] + h["p2p_sold_wh"]
    np.testing.assert_array_equal(sources, sinks)
    ev = pop.ev_wh > 0
    assert (dev["ev_wh"][ev] > 5_000).all() and (dev["ev_wh"][~ev] == 0).all()
    np.testing.assert_allclose(
        dev["ev_own_wh"] + dev["ev_p2p_wh"] + dev["ev_grid_wh"], dev["ev_wh"], atol=1e-6
    )
    assert (dev["ev_own_wh"] >= -1e-6).all() and (dev["ev_grid_wh"] >= 0).all()
    hp = pop.heat_pump_w > 0
    assert (dev["heat_pump_wh"][hp] > 10_000).all()  # January at 50° N
    cop = dev["heat_wh"][hp] / dev["heat_pump_wh"][hp]
    assert ((cop > 1.5) & (cop < 6)).all()
    assert (dev["wind_wh"][pop.wind_w > 0] > 0).all()
    hydro = dev["hydro_wh"][pop.hydro_w > 0]
    assert (hydro > 0).all() and (hydro <= 5_000 * 72 + 1e-6).all()
    # generation of wind and hydro houses is inside their pv_wh (no PV there)
    np.testing.assert_allclose(
        h["pv_wh"][pop.wind_w > 0], dev["wind_wh"][pop.wind_w > 0], rtol=0.01, atol=300
    )


def test_devices_reproducible_by_seed_and_report(tmp_path: Path) -> None:
    a, b, c = _run(4, 2), _run(4, 2), _run(5, 2)
    for k in ("ev_wh", "heat_pump_wh", "wind_wh", "hydro_wh"):
        np.testing.assert_array_equal(a.ledger.devices[k], b.ledger.devices[k])
    assert not np.array_equal(a.ledger.devices["ev_wh"], c.ledger.devices["ev_wh"])
    write_report(a, tmp_path)
    md = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "## Devices" in md and "heat_pump_wh" in md
    assert (tmp_path / "devices.csv").read_text().startswith("house,ev_wh,")


def test_simple_households_unchanged_by_devices_code(tmp_path: Path) -> None:
    from gridpeer.sim.scenario import load_scenario

    r = simulate(make_config(load_scenario("village-100"), "uniform", houses=8, days=1, seed=0))
    assert all(float(v.sum()) == 0 for v in r.ledger.devices.values())
    write_report(r, tmp_path)
    assert not (tmp_path / "devices.csv").exists()


def test_flex_preset_runs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gridpeer.cli import app

    out = tmp_path / "r"
    res = CliRunner().invoke(
        app, ["simulate", "-s", "flex-100", "--houses", "30", "--days", "2", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Devices" in md and "## Forecast (sarima)" in md
    rows = dict(line.split(",")[:2] for line in (out / "forecast.csv").read_text().splitlines())
    assert float(rows["forecast_values"]) == 30 * 96
