"""Report folders for long and interrupted runs."""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path

import matplotlib.dates as mdates
import pytest

from gridpeer.sim import plots
from gridpeer.sim.engine import SimResult, Simulation, make_config, simulate
from gridpeer.sim.kpis import Kpis
from gridpeer.sim.report import RUN_PLOTS, house_table_rows, write_report
from gridpeer.sim.scenario import load_scenario


def test_long_and_interrupted_run_reports(tmp_path: Path) -> None:
    cfg = make_config(load_scenario("thesis-lab-5"), "uniform", days=9, seed=2)
    sim = Simulation(cfg)
    stop_at = 8 * 96 + 10  # beyond a week: plots switch to daily views
    result = sim.run(should_stop=lambda: sim.ledger.slots_done >= stop_at)
    files = write_report(result, tmp_path)
    assert all(f.exists() and f.stat().st_size > 0 for f in files)
    for png, _ in RUN_PLOTS:
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    series = (tmp_path / "series.csv").read_text().splitlines()
    assert len(series) == stop_at + 1
    community = (tmp_path / "kpis_community.csv").read_text().splitlines()
    row = dict(zip(community[0].split(","), community[1].split(","), strict=True))
    assert row["interrupted"] == "true"
    assert row["slots_simulated"] == str(stop_at)
    assert "interrupted" in (tmp_path / "summary.md").read_text()


def _lab_run(days: int = 1) -> SimResult:
    return simulate(make_config(load_scenario("thesis-lab-5"), "uniform", days=days, seed=1))


def test_series_csv_gives_money_in_the_kpi_currency_and_local_times(tmp_path: Path) -> None:
    r = _lab_run()
    write_report(r, tmp_path)
    rows = list(csv.DictReader((tmp_path / "series.csv").open()))
    assert len(rows) == 96
    assert "import_price_CLP_per_kwh" in rows[0] and "import_price" not in rows[0]
    # the scenario's tariffs are 180 and 90 CLP/kWh (wei_per_unit 1000)
    assert {float(x["import_price_CLP_per_kwh"]) for x in rows} == {180.0}
    assert {float(x["feed_in_price_CLP_per_kwh"]) for x in rows} == {90.0}
    value = sum(float(x["p2p_value_CLP"]) for x in rows)
    paid_wei = int(r.ledger.house["p2p_paid_wei"].sum())
    assert value == pytest.approx(paid_wei / 1000, abs=1e-6) and value > 0
    # the KPI table agrees: mean price (CLP/kWh) x energy = value
    comm = Kpis(r).community()
    assert value == pytest.approx(
        float(str(comm["mean_p2p_price"])) * int(str(comm["p2p_wh"])) / 1000, rel=1e-9
    )
    # the UTC day starts at 21:00 of the day before in Valparaíso (UTC-3)
    assert rows[0]["local_time"] == "2025-01-05T21:00-03:00"
    assert rows[4]["local_time"] == "2025-01-05T22:00-03:00"


def test_summary_html_has_a_per_house_table(tmp_path: Path) -> None:
    r = _lab_run()
    write_report(r, tmp_path)
    page = (tmp_path / "summary.html").read_text()
    assert "<h2>Houses</h2>" in page
    table = page.split("<h2>Houses</h2>", 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + 5  # header + one row per house
    for row in Kpis(r).house_rows():
        assert f"<td>{row['house']}</td><td>{row['group']}</td>" in table
    assert "saving (CLP)" in table and "self_sufficiency (0..1)" in table
    # rounded: money with 2 decimals, no 6-decimal floats anywhere in the tables
    assert not re.search(r"\d\.\d{5,}", page)
    assert len(house_table_rows(Kpis(r), limit=2)) == 2


def test_bill_histogram_counts_whole_houses() -> None:
    r = _lab_run()
    fig = plots.bill_changes_figure(r, Kpis(r))
    ticks = fig.axes[0].get_yticks()
    assert len(ticks) >= 2
    assert all(float(t).is_integer() for t in ticks), ticks


def test_time_axes_are_local_dates() -> None:
    r = _lab_run()
    for fig in (plots.flows_figure(r), plots.prices_figure(r), plots.soc_figure(r)):
        ax = fig.axes[0]
        assert ax.get_xlabel() == "local time (UTC-3)"
        lo, hi = ax.get_xlim()  # matplotlib date numbers: days since 1970
        first = mdates.num2date(lo).replace(tzinfo=None)  # type: ignore[no-untyped-call]
        assert datetime(2025, 1, 5, 19) <= first <= datetime(2025, 1, 5, 21)  # with margins
        assert hi - lo == pytest.approx(1.0, abs=0.15)
    assert plots.utc_label(-3) == "UTC-3" and plots.utc_label(5.5) == "UTC+5:30"


def test_design_plot_has_one_panel_per_design() -> None:
    results = [
        simulate(make_config(load_scenario("thesis-lab-5"), m, days=1, seed=1))
        for m in ("uniform", "sdr", "cda")
    ]
    fig = plots.p2p_volume_figure(results)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert {"uniform", "sdr", "cda"} <= set(titles)
    colors = {ax.get_lines()[-1].get_color() for ax in fig.axes if ax.get_title() in titles[1:]}
    assert len(colors) == 3  # each design its own colour
