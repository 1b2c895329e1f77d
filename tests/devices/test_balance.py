"""The energy balance helper."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gridpeer.devices.balance import (
    EnergyBalanceError,
    balance_residual_wh,
    check_balance,
    flows_wh,
)

powers = arrays(np.float64, (3, 10), elements=st.floats(0.0, 20_000.0))
signed = arrays(np.float64, (3, 10), elements=st.floats(-10_000.0, 10_000.0))


@settings(deadline=None, derandomize=True)
@given(load=powers, pv=powers, bess=signed, step_s=st.sampled_from([1, 60, 900]))
def test_consistent_grid_balances(
    load: np.ndarray, pv: np.ndarray, bess: np.ndarray, step_s: int
) -> None:
    grid = load - pv - bess
    flows = flows_wh(load, pv, bess, grid, step_s)
    check_balance(flows)
    assert np.all(np.abs(balance_residual_wh(flows)) < 1e-6)
    assert np.all(flows.charge_wh * flows.discharge_wh == 0)  # one direction per step


def test_imbalance_is_reported_with_location() -> None:
    load = np.full((2, 4), 1_000.0)
    pv = np.zeros((2, 4))
    bess = np.zeros((2, 4))
    grid = load.copy()
    grid[1, 2] -= 100.0  # 100 W short for one hour = 100 Wh
    flows = flows_wh(load, pv, bess, grid, 3600)
    with pytest.raises(EnergyBalanceError, match=r"100\.000 Wh at \(house, step\) \(1, 2\)"):
        check_balance(flows)
    check_balance(flows, tolerance_wh=100.5)


def test_negative_flows_and_nan_are_rejected() -> None:
    ok = np.ones((1, 2))
    flows = flows_wh(-ok, ok * 0, ok * 0, -ok, 3600)
    with pytest.raises(EnergyBalanceError, match="negative"):
        check_balance(flows)
    nan = flows_wh(ok * np.nan, ok, ok, ok, 3600)
    with pytest.raises(EnergyBalanceError, match="non-finite"):
        check_balance(nan)
