"""The emulation report: table, CSV and PNG plots from measured points (no rig)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gridpeer.netsim.emulation.report import EmulationPoint, markdown, write_emulation_report

POINTS = [
    EmulationPoint(
        lo, d, 100 + d * (1 + 10 * lo), 200 + d, 10, 10 - int(lo > 0.1), 0, int(lo > 0.1), p
    )
    for lo in (0.0, 0.05, 0.2)
    for d, p in ((20.0, 20.0), (200.0, None))
]


def test_writes_table_csv_and_plots(tmp_path: Path) -> None:
    paths = write_emulation_report(POINTS, tmp_path / "out")
    names = sorted(p.name for p in paths)
    assert names == [
        "emulation.csv",
        "emulation.md",
        "emulation_command_latency.png",
        "emulation_reading_delay.png",
        "emulation_settled.png",
    ]
    for p in paths:
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    rows = list(csv.DictReader((tmp_path / "out" / "emulation.csv").open()))
    assert len(rows) == len(POINTS)
    assert [r["settled_ratio"] for r in rows if r["loss"] == "0.2"] == ["0.900", "0.900"]


def test_markdown_rows() -> None:
    md = markdown(POINTS).splitlines()
    assert len(md) == 2 + len(POINTS)
    assert md[2] == "| 0% | 20 ms | 120 | 220 | 10/10 | 0 / 0 | 20 |"
    assert md[-1].startswith("| 20% | 200 ms | 700 |") and md[-1].endswith("| 9/10 | 0 / 1 |  |")


def test_settled_ratio_and_empty() -> None:
    assert EmulationPoint(0.0, 20.0, None, None, 0, 0, 0, 0).settled_ratio == 1.0
    assert POINTS[-1].settled_ratio == pytest.approx(0.9)
    with pytest.raises(ValueError):
        write_emulation_report([], Path("unused"))
