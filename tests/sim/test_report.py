"""Report folders for long and interrupted runs."""

from __future__ import annotations

from pathlib import Path

from gridpeer.sim.engine import Simulation, make_config
from gridpeer.sim.report import RUN_PLOTS, write_report
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
