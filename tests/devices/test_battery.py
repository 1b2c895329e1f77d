"""Battery model: dispatch invariants (property-based) and terminal voltage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gridpeer.devices.balance import check_balance, flows_wh
from gridpeer.devices.battery import (
    BatteryBank,
    BatterySpec,
    dispatch_self_consumption,
    one_way_efficiency,
    terminal_voltage_v,
)

EPS = 1e-6


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, BatteryBank, int, np.ndarray]:
    houses = draw(st.integers(1, 5))
    steps = draw(st.integers(1, 40))
    power = st.floats(0.0, 8_000.0, allow_nan=False, width=32)
    pv = draw(arrays(np.float64, (houses, steps), elements=power))
    load = draw(arrays(np.float64, (houses, steps), elements=power))
    capacity = draw(
        arrays(np.float64, houses, elements=st.sampled_from([0.0, 500.0, 5_000.0, 13_500.0]))
    )
    charge = draw(arrays(np.float64, houses, elements=st.floats(0.0, 6_000.0)))
    discharge = draw(arrays(np.float64, houses, elements=st.floats(0.0, 6_000.0)))
    eff = draw(arrays(np.float64, houses, elements=st.floats(0.5, 1.0)))
    low = draw(arrays(np.float64, houses, elements=st.floats(0.0, 0.4)))
    high = draw(arrays(np.float64, houses, elements=st.floats(0.6, 1.0)))
    soc0 = draw(arrays(np.float64, houses, elements=st.floats(0.0, 1.0)))
    step_s = draw(st.sampled_from([1, 60, 300, 900, 3600]))
    bank = BatteryBank(capacity, charge, discharge, eff, low, high)
    return pv, load, bank, step_s, soc0


@settings(max_examples=150, deadline=None, derandomize=True)
@given(scenarios())
def test_dispatch_invariants(
    scenario: tuple[np.ndarray, np.ndarray, BatteryBank, int, np.ndarray],
) -> None:
    pv, load, bank, step_s, soc0 = scenario
    result = dispatch_self_consumption(pv, load, bank, step_s, soc0)
    has = bank.capacity_wh > 0
    charge = np.clip(-result.bess_w, 0, None)
    discharge = np.clip(result.bess_w, 0, None)
    # power limits
    assert np.all(charge <= bank.max_charge_w[:, None] + EPS)
    assert np.all(discharge <= bank.max_discharge_w[:, None] + EPS)
    # self-consumption: charge only from surplus, discharge only into the deficit
    assert np.all(charge <= np.clip(pv - load, 0, None) + EPS)
    assert np.all(discharge <= np.clip(load - pv, 0, None) + EPS)
    # SoC within limits, houses without battery do nothing
    soc = result.soc[has]
    assert np.all(soc >= bank.soc_min[has, None] - EPS)
    assert np.all(soc <= bank.soc_max[has, None] + EPS)
    assert np.all(result.bess_w[~has] == 0.0)
    # losses non-negative; energy conserved: stored change = in - out - losses
    assert np.all(result.loss_wh >= 0.0)
    dt_h = step_s / 3600.0
    start = np.clip(soc0, bank.soc_min, bank.soc_max) * bank.capacity_wh
    end = result.soc[:, -1] * bank.capacity_wh
    stored = (charge.sum(axis=1) - discharge.sum(axis=1)) * dt_h - result.loss_wh.sum(axis=1)
    np.testing.assert_allclose(end[has] - start[has], stored[has], atol=1e-3)
    # house energy balance every step
    check_balance(flows_wh(load, pv, result.bess_w, result.grid_w, step_s))


@settings(max_examples=50, deadline=None, derandomize=True)
@given(scenarios())
def test_dispatch_float32_keeps_balance_within_1wh(
    scenario: tuple[np.ndarray, np.ndarray, BatteryBank, int, np.ndarray],
) -> None:
    pv, load, bank, step_s, soc0 = scenario
    pv32, load32 = pv.astype(np.float32), load.astype(np.float32)
    result = dispatch_self_consumption(pv32, load32, bank, step_s, soc0)
    assert result.bess_w.dtype == np.float32
    check_balance(flows_wh(load32, pv32, result.bess_w, result.grid_w, step_s), tolerance_wh=1.0)


def test_battery_charges_from_surplus_and_covers_evening() -> None:
    spec = BatterySpec.home(5_000.0)
    bank = BatteryBank.of([spec])
    pv = np.array([[3_000.0] * 4 + [0.0] * 4])
    load = np.array([[500.0] * 8])
    result = dispatch_self_consumption(pv, load, bank, 3600, 0.1)
    assert result.bess_w[0, 0] == -2_500.0  # limited by 0.5 C = 2.5 kW
    assert -2_500.0 < result.bess_w[0, 1] < 0.0  # limited by the room left
    assert result.soc[0, 1] == pytest.approx(0.95)  # full
    assert result.bess_w[0, 2] == 0.0
    assert np.all(result.bess_w[0, 4:] > 0)  # evening discharge
    assert np.all(result.grid_w[0, 4:] == pytest.approx(0.0))
    assert result.soc[0, -1] < result.soc[0, 3]


def test_efficiency_splits_round_trip() -> None:
    assert one_way_efficiency(0.81) == pytest.approx(0.9)


def test_voltage_rises_with_soc_and_sags_under_discharge() -> None:
    spec = BatterySpec.home()
    soc = np.linspace(0.0, 1.0, 21)
    rest = terminal_voltage_v(spec, soc, 0.0)
    assert np.all(np.diff(rest) > 0)
    assert 40.0 < rest[0] < rest[-1] < 60.0  # 16-cell LiFePO4 around 48-57 V
    assert terminal_voltage_v(spec, 0.5, 2_000.0) < terminal_voltage_v(spec, 0.5, 0.0)
    assert terminal_voltage_v(spec, 0.5, -2_000.0) > terminal_voltage_v(spec, 0.5, 0.0)
    lab = BatterySpec.lab_lead_acid()
    assert 11.5 < float(terminal_voltage_v(lab, 0.6, 0.0)) < 12.8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity_wh": 0.0}, "capacity"),
        ({"max_charge_w": -1.0}, "power limits"),
        ({"round_trip_efficiency": 1.2}, "efficiency"),
        ({"soc_min": 0.9, "soc_max": 0.5}, "soc_min"),
        ({"soc_initial": 0.01}, "initial SoC"),
    ],
)
def test_bad_specs_are_rejected(kwargs: dict[str, float], message: str) -> None:
    base = {"capacity_wh": 1_000.0, "max_charge_w": 500.0, "max_discharge_w": 500.0}
    with pytest.raises(ValueError, match=message):
        BatterySpec(**(base | kwargs))


def test_dispatch_rejects_mismatched_shapes() -> None:
    bank = BatteryBank.of([None, None])
    with pytest.raises(ValueError, match="houses, steps"):
        dispatch_self_consumption(np.zeros((2, 3)), np.zeros((2, 4)), bank, 60, 0.5)


@given(
    houses=st.integers(1, 4),
    steps=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    step_s=st.sampled_from([60, 300, 900]),
    f32=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_few_houses_path_equals_the_vectorized_one(
    houses: int, steps: int, seed: int, step_s: int, f32: bool
) -> None:
    """Up to SCALAR_HOUSES houses are stepped with plain floats: bit for bit the same
    results as the vectorized path takes for more houses."""
    from gridpeer.devices.battery import SCALAR_HOUSES

    rng = np.random.default_rng(seed)
    n = SCALAR_HOUSES + 1
    dtype = np.float32 if f32 else np.float64
    pv = (rng.uniform(0, 6000, (n, steps)) * (rng.random((n, steps)) > 0.3)).astype(dtype)
    load = rng.uniform(0, 4000, (n, steps)).astype(dtype)
    specs = [
        None if k % 3 == 2 else BatterySpec.home(float(rng.uniform(1000, 15000))) for k in range(n)
    ]
    soc0 = rng.uniform(0, 1, n)
    wide = dispatch_self_consumption(pv, load, BatteryBank.of(specs), step_s, soc0)
    few = dispatch_self_consumption(
        pv[:houses], load[:houses], BatteryBank.of(specs[:houses]), step_s, soc0[:houses]
    )
    for name in ("bess_w", "soc", "grid_w", "loss_wh"):
        a, b = getattr(few, name), getattr(wide, name)[:houses]
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b, err_msg=name)
