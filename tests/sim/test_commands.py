"""``gridpeer simulate`` and ``gridpeer compare`` end to end on small scenarios."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gridpeer.cli import app

runner = CliRunner()

SMALL = """
name = "tiny"
houses = 6
[site]
latitude = -33.0
longitude = -71.6
utc_offset_h = -3
[tariff]
currency = "CLP"
wei_per_unit = 1000
import_price = 180
feed_in_price = 90
[calendar]
start = 2025-02-01
days = 1
[[households]]
name = "pv-battery"
share = 0.5
pv_kwp = 3.0
battery_wh = 5000
[[households]]
name = "consumer"
share = 0.5
"""


def test_simulate_writes_a_full_report(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    res = runner.invoke(
        app,
        [
            "simulate",
            "-s",
            "thesis-lab-5",
            "--days",
            "1",
            "--market",
            "cda",
            "--seed",
            "3",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    for name in (
        "kpis_houses.csv",
        "kpis_community.csv",
        "summary.md",
        "summary.html",
        "flows.png",
        "prices.png",
        "bill_changes.png",
        "soc.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert (out / "flows.png").read_bytes()[:4] == b"\x89PNG"
    assert "cda" in (out / "kpis_community.csv").read_text()
    assert len((out / "kpis_houses.csv").read_text().splitlines()) == 6


def test_compare_writes_side_by_side_table(tmp_path: Path) -> None:
    scen = tmp_path / "tiny.toml"
    scen.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "cmp"
    res = runner.invoke(
        app,
        [
            "compare",
            "-s",
            str(scen),
            "--markets",
            "uniform,mid-market,bill-sharing",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    lines = (out / "compare.csv").read_text().splitlines()
    assert lines[0] == "kpi,uniform,mid-market,bill-sharing"
    price = next(line for line in lines if line.startswith("mean_p2p_price,"))
    assert price.split(",")[3] in ("0.00", "")  # bill sharing trades at 0
    for design in ("uniform", "mid-market", "bill-sharing"):
        assert (out / design / "kpis_community.csv").exists()
    assert (out / "p2p_volume.png").exists() and (out / "compare.html").exists()
    # one sentence per KPI, in the report and on the terminal
    html = (out / "compare.html").read_text()
    assert "Do the designs differ?" in html and "Do the designs differ?" in res.output
    kpis = [line.split(",")[0] for line in lines[1:]]
    md = (out / "compare.md").read_text()
    for kpi in kpis:
        assert f"- {kpi} is " in md or f"- {kpi} differs " in md, kpi
    assert "- mean_p2p_price differs between designs" in md
    assert "- load_wh is the same for every design" in md
    flat = " ".join(res.output.split())
    assert "mean_p2p_price differs between designs" in flat


def test_help_shows_full_defaults_and_no_bool_types() -> None:
    for cmd in ("simulate", "compare", "netsim"):
        res = runner.invoke(app, [cmd, "--help"], terminal_width=100)
        assert res.exit_code == 0, res.output
        assert "<bool>" not in res.output, cmd
        assert "…" not in res.output, cmd
    res = runner.invoke(app, ["compare", "--help"], terminal_width=100)
    flat = " ".join(res.output.replace("│", " ").split())
    assert "pay-as-bid, cda, mid-market, bill-sharing, sdr" in flat
    assert "[default: all]" in flat


def test_bad_inputs_exit_with_clear_errors(tmp_path: Path) -> None:
    res = runner.invoke(app, ["simulate", "-s", "atlantis", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "unknown scenario 'atlantis'" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace("share = 0.5\n", "share = 0.2\n", 1), encoding="utf-8")
    res = runner.invoke(app, ["simulate", "-s", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "shares must sum to 1" in res.output
    res = runner.invoke(app, ["compare", "--markets", "uniform,barter", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "barter" in res.output


def test_first_ctrl_c_sets_the_stop_flag_second_aborts() -> None:
    import os
    import signal

    import pytest
    from rich.console import Console

    from gridpeer.sim.progress import stop_on_ctrl_c

    before = signal.getsignal(signal.SIGINT)
    with stop_on_ctrl_c(Console(quiet=True)) as flag:
        assert not flag()
        os.kill(os.getpid(), signal.SIGINT)
        assert flag()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_compare_grid_of_designs_and_forecasts(tmp_path: Path) -> None:
    scen = tmp_path / "tiny.toml"
    scen.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "grid"
    args = ["compare", "-s", str(scen), "--markets", "uniform,pay-as-bid", "--days", "3"]
    res = runner.invoke(app, [*args, "--forecast", "perfect,sarima,gbm", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = (out / "forecast_grid.csv").read_text().splitlines()
    assert lines[0].startswith("forecast,mechanism,p2p_wh,")
    assert [line.split(",")[:2] for line in lines[1:]] == [
        [f, m] for f in ("perfect", "sarima", "gbm") for m in ("uniform", "pay-as-bid")
    ]
    skill = {line.split(",")[0]: float(line.split(",")[-1]) for line in lines[1:]}
    assert skill["perfect"] == 1.0 and skill["sarima"] < 1.0
    for fc in ("perfect", "sarima", "gbm"):
        assert (out / fc / "compare.csv").exists()
        assert (out / fc / "uniform" / "forecast.csv").exists()
    assert "forecast_grid" in "".join(res.output.split())
    bad = runner.invoke(app, [*args, "--forecast", "oracle", "--out", str(out)])
    assert bad.exit_code == 2 and "--forecast" in bad.output
