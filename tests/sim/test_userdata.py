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


def _smart_home_days(
    path: Path, days: int, *, skip_day: int | None = None, start: str = "2025-01-06"
) -> None:
    """A smart-home CSV of ``days`` UTC days, 15-minute rows: 400 W load, a 3 kW PV bell
    between 10:00 and 20:00 UTC (07:00-17:00 at UTC-3)."""
    t0 = int(np.datetime64(start, "s").astype(np.int64))
    lines = ["time,use [kW],Solar [kW]"]
    for d in range(days):
        if d == skip_day:
            continue
        for s in range(96):
            hour = (s + 0.5) / 4
            pv = 3.0 * max(0.0, np.sin(np.pi * (hour - 10) / 10)) if 10 <= hour <= 20 else 0.0
            lines.append(f"{t0 + (d * 96 + s) * 900},0.4,{pv:.4f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _scenario(
    tmp_path: Path, extra: str = "", forecast: str = "perfect", fmt: str = "smart-home"
) -> Path:
    text = SCENARIO.format(file="mine.csv", fmt=fmt).replace(
        'data_format = "', extra + 'data_format = "'
    )
    text = text.replace("[[households]]", f'[strategy]\nforecast = "{forecast}"\n[[households]]', 1)
    scen = tmp_path / "s.toml"
    scen.write_text(text, encoding="utf-8")
    return scen


def test_data_house_sells_with_clear_sky_forecast(tmp_path: Path) -> None:
    # defect: the clear-sky array came from the group's modelled pv_kwp (0 for a data house)
    _smart_home_days(tmp_path / "mine.csv", 3)
    sc = load_scenario(str(_scenario(tmp_path, forecast="clear-sky")))
    r = simulate(make_config(sc, "uniform", days=2, seed=0))
    h = int(np.flatnonzero(r.population.group == 0)[0])
    assert int(r.ledger.house["pv_wh"][h]) > 30_000
    assert int(r.ledger.house["contracted_sold_wh"][h]) > 0
    assert int(r.ledger.house["p2p_sold_wh"][h]) > 0


def test_data_clear_sky_uses_only_earlier_days(tmp_path: Path) -> None:
    _smart_home_days(tmp_path / "mine.csv", 20)
    prof = load_daily_profiles(tmp_path / "mine.csv", "smart-home")
    assert prof.pv_w is not None
    base = prof.clear_sky_pv_w(15)
    assert base is not None
    prof.pv_w[15] *= 5.0  # the replayed day itself and later ones must not matter
    prof.pv_w[16:] *= 5.0
    again = prof.clear_sky_pv_w(15)
    assert again is not None
    np.testing.assert_array_equal(base, again)
    np.testing.assert_allclose(base.max(), prof.pv_w[0].max())


def test_data_tz_shifts_posix_timestamps(tmp_path: Path) -> None:
    # defect: naive_tz reached only ISO timestamps; a logger writing local time as UTC
    # could not be shifted from the scenario
    _smart_home_days(tmp_path / "mine.csv", 2)
    utc = load_daily_profiles(tmp_path / "mine.csv", "smart-home")
    local = load_daily_profiles(tmp_path / "mine.csv", "smart-home", tz="America/Santiago")
    assert utc.pv_w is not None and local.pv_w is not None
    peak_utc = int(np.argmax(utc.pv_w[0]))
    peak_local = int(np.argmax(local.pv_w[0]))
    assert peak_local - peak_utc == 3 * 4  # UTC-3 in January: 3 h later in UTC
    sc = load_scenario(str(_scenario(tmp_path, 'data_tz = "America/Santiago"\n')))
    assert sc.households[0].data_tz == "America/Santiago"
    r = simulate(make_config(sc, "uniform", days=1, seed=0))
    h = int(np.flatnonzero(r.population.group == 0)[0])
    assert int(r.ledger.house["pv_wh"][h]) == int(np.rint(local.pv_w[1] / 4).sum())


def test_unknown_data_tz_is_a_scenario_error(tmp_path: Path) -> None:
    from gridpeer.sim.scenario import ScenarioError

    _smart_home_days(tmp_path / "mine.csv", 1)
    with pytest.raises(ScenarioError, match="data_tz"):
        load_scenario(str(_scenario(tmp_path, 'data_tz = "Mars/Olympus"\n')))


def test_data_align_by_date(tmp_path: Path) -> None:
    _smart_home_days(tmp_path / "mine.csv", 10, start="2024-01-01")
    prof = load_daily_profiles(tmp_path / "mine.csv", "smart-home")
    from datetime import date

    assert prof.first_day == date(2024, 1, 1)
    assert prof.aligned(date(2025, 1, 6), "start").file_day(0) == 0
    assert prof.aligned(date(2025, 1, 6), "date").file_day(0) == 5  # Jan 6 is file day 5
    assert prof.aligned(date(2025, 1, 6), "date").file_day(6) == 1  # cycles


def test_warnings_for_cycling_and_filled_days(tmp_path: Path) -> None:
    # defects: a file shorter than the run cycled silently; a missing day was filled silently
    _smart_home_days(tmp_path / "mine.csv", 4, skip_day=1)
    prof = load_daily_profiles(tmp_path / "mine.csv", "smart-home")
    assert any("1 whole day(s) missing (2025-01-07)" in w for w in prof.warnings)
    sc = load_scenario(str(_scenario(tmp_path)))
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["simulate", "-s", str(tmp_path / "s.toml"), "--days", "6", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "cycling" in res.output and "whole day(s) missing" in res.output
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Warnings" in summary and "cycling" in summary
    r = simulate(make_config(sc, "uniform", days=2, seed=0))
    assert not any("cycling" in w for w in r.warnings)
    assert any("missing" in w for w in r.warnings)


def test_split_json_house(tmp_path: Path) -> None:
    import pandas as pd

    idx = pd.date_range("2025-01-06", periods=2 * 24 * 60, freq="1min", tz="UTC")
    hours = idx.hour + idx.minute / 60
    pv = np.clip(2.0 * np.sin(np.pi * (hours - 10) / 10), 0, None)
    frame = pd.DataFrame({"use [kW]": 0.5, "Solar [kW]": pv}, index=idx.tz_localize(None))
    frame.to_json(tmp_path / "mine.csv", orient="split")
    sc = load_scenario(str(_scenario(tmp_path, fmt="split-json")))
    r = simulate(make_config(sc, "uniform", days=1, seed=0))
    h = int(np.flatnonzero(r.population.group == 0)[0])
    assert int(r.ledger.house["load_wh"][h]) == 12_000
    assert int(r.ledger.house["pv_wh"][h]) == pytest.approx(2 * 10 * 2 / np.pi * 1000, rel=0.01)
