"""Many houses at once: vectorized PV, load and dispatch."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.devices.balance import check_balance
from gridpeer.devices.fleet import Fleet, iter_fleet_days, simulate_fleet_day
from gridpeer.profiles.load import LoadBank, richardson_bank
from gridpeer.profiles.site import VALPARAISO

DAY = date(2025, 1, 5)


@pytest.fixture(scope="module")
def bank() -> LoadBank:
    return richardson_bank(households=3, days=7, seed=0)


def test_random_fleet_is_seeded_and_mixed() -> None:
    a = Fleet.random(500, seed=3, bank_households=3)
    b = Fleet.random(500, seed=3, bank_households=3)
    np.testing.assert_array_equal(a.kwp, b.kwp)
    np.testing.assert_array_equal(a.batteries.capacity_wh, b.batteries.capacity_wh)
    share_pv = float(np.mean(a.kwp > 0))
    assert 0.5 < share_pv < 0.7
    assert np.all(a.batteries.capacity_wh[a.kwp == 0] == 0)  # batteries only with PV
    assert 0 < np.sum(a.batteries.capacity_wh > 0) < np.sum(a.kwp > 0)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    houses=st.integers(1, 40),
    seed=st.integers(0, 10_000),
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
    step_s=st.sampled_from([60, 300, 900, 3600]),
)
def test_every_house_balances_every_step(
    bank: LoadBank, houses: int, seed: int, day: date, step_s: int
) -> None:
    fleet = Fleet.random(houses, seed=seed, bank_households=3)
    result = simulate_fleet_day(fleet, VALPARAISO, day, step_s=step_s, seed=seed, bank=bank)
    assert result.load_w.shape == (houses, 86_400 // step_s)
    for name in ("load_w", "pv_w", "bess_w", "soc", "grid_w"):
        assert getattr(result, name).dtype == np.float32
    check_balance(result.flows(), tolerance_wh=1.0)
    assert np.all(result.pv_w[fleet.kwp == 0] == 0)
    caps = fleet.batteries
    has = caps.capacity_wh > 0
    assert np.all(result.soc[has] >= caps.soc_min[has, None] - 1e-6)
    assert np.all(result.soc[has] <= caps.soc_max[has, None] + 1e-6)


def test_pv_scales_with_kwp_and_matches_orientation(bank: LoadBank) -> None:
    fleet = Fleet.random(50, seed=1, bank_households=3)
    result = simulate_fleet_day(fleet, VALPARAISO, DAY, seed=1, bank=bank)
    pv = fleet.kwp > 0
    per_kwp = result.pv_w[pv].sum(axis=1) / fleet.kwp[pv]
    same = (fleet.tilt_deg[pv] == fleet.tilt_deg[pv][0]) & (
        fleet.azimuth_deg[pv] == fleet.azimuth_deg[pv][0]
    )
    np.testing.assert_allclose(per_kwp[same], per_kwp[same][0], rtol=1e-5)
    # a clear-ish January day in Valparaíso: 3-8 kWh per kWp
    assert 3.0 < float(np.median(per_kwp)) * 0.25 / 1000.0 < 8.0


def test_days_stream_and_match_single_days(bank: LoadBank) -> None:
    fleet = Fleet.random(30, seed=2, bank_households=3)
    done: list[tuple[int, int]] = []
    days = list(
        iter_fleet_days(
            fleet, VALPARAISO, DAY, 3, seed=2, bank=bank, progress=lambda d, t: done.append((d, t))
        )
    )
    assert done == [(1, 3), (2, 3), (3, 3)]
    second = simulate_fleet_day(
        fleet, VALPARAISO, date(2025, 1, 6), seed=2, bank=bank, soc_initial=days[0].soc[:, -1]
    )
    np.testing.assert_array_equal(days[1].load_w, second.load_w)
    np.testing.assert_array_equal(days[1].pv_w, second.pv_w)
    np.testing.assert_allclose(days[1].soc, second.soc, atol=1e-6)
    assert not np.array_equal(days[0].pv_w, days[1].pv_w)


def test_fleet_rejects_inconsistent_arrays() -> None:
    fleet = Fleet.random(3, seed=0)
    with pytest.raises(ValueError, match="shape"):
        Fleet(
            kwp=fleet.kwp[:2],
            tilt_deg=fleet.tilt_deg,
            azimuth_deg=fleet.azimuth_deg,
            bank_household=fleet.bank_household,
            shift_min=fleet.shift_min,
            daily_load_wh=fleet.daily_load_wh,
            batteries=fleet.batteries,
        )
    with pytest.raises(ValueError, match="bank households"):
        simulate_fleet_day(
            Fleet.random(20, seed=0, bank_households=12),
            VALPARAISO,
            DAY,
            bank=richardson_bank(households=3, days=7, seed=0),
        )
