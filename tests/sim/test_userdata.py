"""Households replaying users' own data files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gridpeer.cli import app
from gridpeer.profiles.readers import ProfileFileError
from gridpeer.sim.engine import make_config, simulate
from gridpeer.sim.scenario import load_scenario
from gridpeer.sim.userdata import load_daily_profiles

DATA = Path(__file__).parents[1] / "profiles" / "data"

SCENARIO = """
name = "with-data"
houses = 4
[site]
latitude = -33.0
longitude = -71.6
utc_offset_h = -3
[tariff]
import_price = 0.2
feed_in_price = 0.1
[[households]]
name = "measured"
share = 0.25
data = "{file}"
data_format = "{fmt}"
[[households]]
name = "pv"
share = 0.75
pv_kwp = 3.0
"""


def test_daily_profiles_from_watts_file() -> None:
    prof = load_daily_profiles(DATA / "watts_sample.csv", "watts")
    assert prof.load_w.shape[1] == 96
    assert prof.pv_w is None
    assert np.isfinite(prof.load_w).all()
    day0, _ = prof.day(0)
    again, _ = prof.day(prof.load_w.shape[0])
    np.testing.assert_array_equal(day0, again)  # cycles over the file's days


def test_house_follows_its_file(tmp_path: Path) -> None:
    shutil.copy(DATA / "watts_sample.csv", tmp_path / "mine.csv")
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO.format(file="mine.csv", fmt="watts"), encoding="utf-8")
    sc = load_scenario(str(scen))
    r = simulate(make_config(sc, "uniform", days=1, seed=0))
    measured = np.flatnonzero(r.population.group == 0)
    assert measured.size == 1
    expected = int(np.rint(load_daily_profiles(tmp_path / "mine.csv", "watts").load_w[0] / 4).sum())
    assert int(r.ledger.house["load_wh"][measured[0]]) == expected
    assert int(r.ledger.house["pv_wh"][measured[0]]) == 0


def test_file_not_covering_a_day_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileFileError, match="every 15-minute slot"):
        load_daily_profiles(DATA / "smart_home_sample.csv", "smart-home")
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO.format(file="missing.csv", fmt="watts"), encoding="utf-8")
    res = CliRunner().invoke(app, ["simulate", "-s", str(scen), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "missing.csv" in res.output and "not found" in res.output
