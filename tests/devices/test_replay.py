"""Replaying measured files as house traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridpeer.devices.balance import check_balance, flows_wh
from gridpeer.devices.battery import BatterySpec
from gridpeer.devices.house import HouseConfig
from gridpeer.devices.pv import PVArray
from gridpeer.devices.replay import trace_from_frame
from gridpeer.profiles.readers import read_smart_home, read_watts_csv

DATA = Path(__file__).parent.parent / "profiles" / "data"


def test_smart_home_file_with_battery_balances() -> None:
    frame = read_smart_home(DATA / "smart_home_sample.csv")
    config = HouseConfig("h1", pv=PVArray(2.5), battery=BatterySpec.home(5_000.0))
    trace = trace_from_frame(config, frame, step_s=300)
    assert len(trace) == 24 and trace.step_s == 300
    assert trace.start == frame.index[0].to_pydatetime()
    check_balance(flows_wh(trace.load_w, trace.pv_w, trace.bess_w, trace.grid_w, 300))
    np.testing.assert_allclose(trace.load_w[0], frame["load_w"].iloc[:5].mean())
    assert trace.bess_w.min() < 0.0  # stores the noon surplus
    lit = trace.pv_w > 0
    np.testing.assert_allclose(trace.pv_v[lit] * trace.pv_i[lit], trace.pv_w[lit])
    assert np.all((trace.pv_v[lit] > 150.0) & (trace.pv_v[lit] < 300.0))


def test_consumer_file_and_mismatches() -> None:
    frame = read_watts_csv(DATA / "watts_sample.csv")
    trace = trace_from_frame(HouseConfig("h4"), frame, step_s=900)
    assert len(trace) == 96 and np.all(trace.grid_w == trace.load_w)
    with pytest.raises(ValueError, match="no pv_w column"):
        trace_from_frame(HouseConfig("h1", pv=PVArray(3.0)), frame)
    with pytest.raises(ValueError, match="has no PV array"):
        trace_from_frame(HouseConfig("h4"), read_smart_home(DATA / "smart_home_sample.csv"))


def test_long_gaps_are_refused() -> None:
    index = pd.DatetimeIndex(["2025-01-01T00:00Z", "2025-01-01T00:01Z", "2025-01-01T05:00Z"])
    frame = pd.DataFrame({"load_w": [1.0, 2.0, 3.0]}, index=index)
    with pytest.raises(ValueError, match="gap"):
        trace_from_frame(HouseConfig("h4"), frame, step_s=60)
    short = trace_from_frame(HouseConfig("h4"), frame, step_s=3600)
    assert len(short) == 6
