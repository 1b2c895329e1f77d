"""The soak benchmark's short version (bench/soak.py): three houses under ``serve`` with
trades and two random kill -9 faults; nothing lost, doubled, settled twice or stuck, and
the money adds up (recovery times are reported by the benchmark, not asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil, pytest.mark.postgres]
SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_short_soak_with_two_faults_keeps_every_invariant() -> None:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    r = soak.soak(houses=3, days=1.0, speed=3600.0, fault_every_h=8.0, faults=2, seed=7)
    assert r["faults"] == 2 and r["trades"] > 0 and r["readings"] > 0
    for key in ("readings_lost", "readings_doubled", "settled_twice", "stuck"):
        assert r[key] == 0, (key, r)
    assert r["money_drift_wei"] == 0, r
