"""PV array model: power, voltage and current of a string."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.devices.pv import LAB_PANEL_10W, PVArray, array_output
from gridpeer.profiles.site import VALPARAISO
from gridpeer.profiles.sky import plane_of_array, sky_day


def test_lab_panel_nominal_at_standard_conditions() -> None:
    panel = PVArray.lab_panel()
    # STC: 1000 W/m² and a cell at 25 °C. Faiman heats the cell, so pick air that gives 25 °C.
    from gridpeer.devices.pv import cell_temperature_c

    air = 25.0 - float(cell_temperature_c(1000.0, 0.0))
    out = array_output(panel, np.array([1000.0]), np.array([air]))
    assert out.p_w[0] == pytest.approx(10.0, rel=1e-3)
    assert out.v_v[0] == pytest.approx(17.54, abs=0.05)
    assert out.i_a[0] == pytest.approx(0.57, abs=0.005)
    assert out.v_v[0] < LAB_PANEL_10W.v_oc_v == 23.4


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
    seed=st.integers(0, 1000),
    kwp=st.sampled_from([0.01, 1.0, 3.0, 8.5]),
)
def test_pv_is_zero_at_night_bounded_by_clear_sky_and_p_equals_vi(
    day: date, seed: int, kwp: float
) -> None:
    array = PVArray(kwp) if kwp >= 1.0 else PVArray.lab_panel()
    sky = sky_day(VALPARAISO, day, seed)
    poa = plane_of_array(sky, array.tilt_deg, array.azimuth_deg)[0]
    clear = plane_of_array(sky, array.tilt_deg, array.azimuth_deg, clear_sky=True)[0]
    out = array_output(array, poa, sky.temp_air_c)
    best = array_output(array, clear, sky.temp_air_c)
    night = sky.zenith_deg >= 90.0
    assert np.all(out.p_w[night] == 0.0) and np.all(out.i_a[night] == 0.0)
    assert np.all(out.p_w <= best.p_w + 1e-9)
    assert np.all(out.p_w <= array.kwp * 1000.0 * 1.1)
    np.testing.assert_allclose(out.v_v * out.i_a, out.p_w, rtol=1e-9, atol=1e-9)
    assert np.all(out.v_v <= array.module.v_oc_v * array.modules_in_series)


def test_house_string_voltage_stays_below_limit() -> None:
    big = PVArray(50.0)
    assert big.module.v_oc_v * big.modules_in_series <= big.max_string_voc_v
    assert PVArray(3.0).modules == 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kwp": 0.0}, "kWp"),
        ({"kwp": 3.0, "tilt_deg": 100.0}, "tilt"),
        ({"kwp": 3.0, "derate": 0.0}, "derate"),
    ],
)
def test_bad_arrays_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PVArray(**kwargs)


def test_power_and_cell_temperature_match_pvlib() -> None:
    import pvlib

    from gridpeer.devices.pv import cell_temperature_c, dc_power_w

    rng = np.random.default_rng(5)
    poa = rng.uniform(0, 1200, (20, 1440))
    air = rng.uniform(-5, 40, (1, 1440))
    cell = cell_temperature_c(poa, air)
    np.testing.assert_allclose(cell, pvlib.temperature.faiman(poa, air, wind_speed=2.0), rtol=1e-12)
    ref = np.clip(pvlib.pvsystem.pvwatts_dc(poa, cell, 1000.0, -0.004), 0.0, None) * 0.9
    ref = np.where(poa < 1.0, 0.0, ref)
    np.testing.assert_allclose(dc_power_w(poa, cell, 1000.0, derate=0.9), ref, rtol=1e-12)
