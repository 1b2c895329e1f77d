"""Tables and plots from study results (made-up results, no ns-3)."""

from __future__ import annotations

import csv
from pathlib import Path

from gridpeer.netsim.messages import Traffic
from gridpeer.netsim.report import group_results, markdown, write_report
from gridpeer.netsim.results import FlowTotals, RunResult
from gridpeer.netsim.scenario import Market, Pattern, RunConfig, ScenarioKind
from gridpeer.netsim.technology import Tech


def _result(cfg: RunConfig, delay_ms: float, lost: int = 0) -> RunResult:
    totals = FlowTotals(
        100, 100 - lost, 8000, 8000 - 80 * lost, delay_ms * 1e-3 * (100 - lost), 0.01, 98 - lost, 2
    )
    return RunResult(cfg, totals, 832.0, 0.5)


RESULTS = [
    _result(RunConfig(ScenarioKind.HAN, Tech.WIFI_G), 0.2),
    _result(RunConfig(ScenarioKind.HAN, Tech.ETH_1G), 0.002),
    *(
        _result(RunConfig(ScenarioKind.NAN_TRADING, t, p, Market.DECENTRALIZED), d * p, lost)
        for t, d, lost in ((Tech.WIFI_B, 0.3, 10), (Tech.ETH_100M, 0.01, 0))
        for p in (2, 3)
    ),
    _result(RunConfig(ScenarioKind.HAN, Tech.WIFI_G, traffic=Traffic.GRIDPEER), 0.25),
]


def test_metrics() -> None:
    r = RESULTS[2]  # 802.11b, 2 peers, 10 of 100 lost
    assert r.delivery_ratio == 0.9
    assert abs(r.mean_delay_s - 0.6e-3) < 1e-12
    assert abs(r.jitter_s - 0.01 / 88) < 1e-12


def test_groups_and_markdown() -> None:
    groups = group_results(RESULTS)
    assert list(groups) == [
        (Traffic.THESIS, ScenarioKind.HAN, None, Pattern.SMOOTH),
        (Traffic.THESIS, ScenarioKind.NAN_TRADING, Market.DECENTRALIZED, Pattern.SMOOTH),
        (Traffic.GRIDPEER, ScenarioKind.HAN, None, Pattern.SMOOTH),
    ]
    md = markdown(RESULTS)
    assert "## NAN trading, decentralized market — thesis traffic" in md
    assert "| technology | 2 prosumers | 3 prosumers |" in md
    assert "| 802.11b | 0.6000 | 0.9000 |" in md
    assert "| 802.11b | 90.00 | 90.00 |" in md


def test_write_report(tmp_path: Path) -> None:
    paths = write_report(RESULTS, tmp_path / "out")
    names = sorted(p.name for p in paths)
    assert names == sorted(
        [
            "results.csv",
            "results.md",
            "delay_thesis_han.png",
            "delay_thesis_nan-trading_decentralized.png",
            "delay_gridpeer_han.png",
        ]
    )
    for p in paths:
        assert p.stat().st_size > 0
    assert (tmp_path / "out" / "delay_thesis_han.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((tmp_path / "out" / "results.csv").open()))
    assert len(rows) == len(RESULTS)
    assert rows[2]["technology"] == "802.11b" and rows[2]["delivery_ratio"] == "0.900000"
    assert rows[2]["mean_delay_ms"] == "0.6000"
