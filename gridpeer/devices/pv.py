"""PV array model: power from plane-of-array irradiance, and the string's V and I.

Power follows PVWatts (the formula of pvlib's ``pvwatts_dc``) with the Faiman
cell-temperature model (pvlib's ``temperature.faiman``), both written out here so that
computing PV power does not import pvlib (about 1 s of start-up; the tests check them
against pvlib). The string voltage follows the module's maximum-power-point voltage,
corrected for cell temperature and (logarithmically) for irradiance, times the modules
in series. The current is ``P / V``. Arrays broadcast, so one call serves one house or
thousands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_WIND_SPEED_MS = 2.0
_FAIMAN_U0 = 25.0  # W/m²/°C, pvlib's default (Faiman 2008)
_FAIMAN_U1 = 6.84  # W/m²/°C per m/s
_DARK_W_M2 = 1.0  # below this plane-of-array irradiance the string produces nothing


@dataclass(frozen=True)
class PVModule:
    """One PV module's datasheet values at standard test conditions (1000 W/m², 25 °C).

    Attributes:
        name: label.
        p_mp_w: rated maximum power, W.
        v_mp_v: voltage at maximum power, V.
        v_oc_v: open-circuit voltage, V.
        gamma_pdc: power temperature coefficient, 1/°C (negative).
        beta_v: voltage temperature coefficient, 1/°C (negative).
    """

    name: str
    p_mp_w: float
    v_mp_v: float
    v_oc_v: float
    gamma_pdc: float = -0.004
    beta_v: float = -0.0032

    def __post_init__(self) -> None:
        if self.p_mp_w <= 0.0 or self.v_mp_v <= 0.0:
            raise ValueError("module power and voltage must be > 0")
        if self.v_oc_v < self.v_mp_v:
            raise ValueError("open-circuit voltage must be >= maximum-power voltage")


LAB_PANEL_10W = PVModule("thesis lab panel 10 W", p_mp_w=10.0, v_mp_v=10.0 / 0.57, v_oc_v=23.4)
"""The thesis's lab panel: 10 W, 23.4 V open circuit, 0.57 A at maximum power (17.5 V)."""

HOUSE_MODULE_400W = PVModule("400 W monocrystalline", p_mp_w=400.0, v_mp_v=34.0, v_oc_v=41.0)
"""A typical rooftop module for kW-scale house arrays."""


@dataclass(frozen=True)
class PVArray:
    """A PV array of identical modules in series strings.

    Attributes:
        kwp: rated (peak) power, kW.
        tilt_deg: tilt from horizontal, degrees 0..90.
        azimuth_deg: facing direction, degrees east of north (0 = north, facing the
            equator in the southern hemisphere).
        module: module datasheet.
        derate: fraction of DC power left after soiling, wiring and mismatch, 0..1.
        max_string_voc_v: longest allowed string, by open-circuit voltage, V.
    """

    kwp: float
    tilt_deg: float = 25.0
    azimuth_deg: float = 0.0
    module: PVModule = field(default=HOUSE_MODULE_400W)
    derate: float = 0.9
    max_string_voc_v: float = 600.0

    def __post_init__(self) -> None:
        if not 0.0 < self.kwp <= 10_000.0:
            raise ValueError(f"kWp must be in (0, 10000] kW, got {self.kwp}")
        if not 0.0 <= self.tilt_deg <= 90.0:
            raise ValueError(f"tilt must be in 0..90 degrees, got {self.tilt_deg}")
        if not 0.0 <= self.azimuth_deg < 360.0:
            raise ValueError(f"azimuth must be in 0..360 degrees, got {self.azimuth_deg}")
        if not 0.0 < self.derate <= 1.0:
            raise ValueError(f"derate must be in (0, 1], got {self.derate}")

    @classmethod
    def lab_panel(cls, tilt_deg: float = 33.0, azimuth_deg: float = 0.0) -> PVArray:
        """The thesis's single 10 W lab panel (no derate: it is measured at its terminals)."""
        return cls(
            kwp=LAB_PANEL_10W.p_mp_w / 1000.0,
            tilt_deg=tilt_deg,
            azimuth_deg=azimuth_deg,
            module=LAB_PANEL_10W,
            derate=1.0,
        )

    @property
    def modules(self) -> int:
        """Number of modules (at least 1)."""
        return max(1, round(self.kwp * 1000.0 / self.module.p_mp_w))

    @property
    def modules_in_series(self) -> int:
        """Modules per string, limited by ``max_string_voc_v``."""
        longest = max(1, math.floor(self.max_string_voc_v / self.module.v_oc_v))
        strings = math.ceil(self.modules / longest)
        return math.ceil(self.modules / strings)


def cell_temperature_c(poa_w_m2: npt.ArrayLike, temp_air_c: npt.ArrayLike) -> FloatArray:
    """Cell temperature, °C, from irradiance (W/m²) and air temperature (°C), Faiman model."""
    temp_difference = np.asarray(poa_w_m2) / (_FAIMAN_U0 + _FAIMAN_U1 * _WIND_SPEED_MS)
    return np.asarray(np.asarray(temp_air_c) + temp_difference, dtype=np.float64)


def dc_power_w(
    poa_w_m2: npt.ArrayLike,
    temp_cell_c: npt.ArrayLike,
    pdc0_w: npt.ArrayLike,
    gamma_pdc: float = -0.004,
    derate: npt.ArrayLike = 1.0,
) -> FloatArray:
    """DC power, W (>= 0): PVWatts at rated power ``pdc0_w`` (W), times ``derate``."""
    poa = np.asarray(poa_w_m2)
    power = poa * 0.001 * np.asarray(pdc0_w) * (1 + gamma_pdc * (np.asarray(temp_cell_c) - 25.0))
    power = np.asarray(power, dtype=np.float64) * np.asarray(derate, dtype=np.float64)
    dark = np.asarray(poa_w_m2) < _DARK_W_M2
    return np.where(dark, 0.0, np.clip(power, 0.0, None))


def string_voltage_v(
    poa_w_m2: npt.ArrayLike, temp_cell_c: npt.ArrayLike, module: PVModule, in_series: int
) -> FloatArray:
    """Operating (maximum-power) string voltage, V; 0 in the dark."""
    poa = np.asarray(poa_w_m2, dtype=np.float64)
    lit = poa >= _DARK_W_M2
    log_g = np.log(np.where(lit, poa, 1000.0) / 1000.0)
    factor = (1.0 + module.beta_v * (np.asarray(temp_cell_c) - 25.0)) * (1.0 + 0.04 * log_g)
    volts = module.v_mp_v * in_series * np.clip(factor, 0.6, 1.15)
    return np.where(lit, volts, 0.0)


@dataclass(frozen=True)
class PVOutput:
    """Electrical output of an array, one value per step: P (W), V (V), I (A)."""

    p_w: FloatArray
    v_v: FloatArray
    i_a: FloatArray


def array_output(array: PVArray, poa_w_m2: FloatArray, temp_air_c: FloatArray) -> PVOutput:
    """What the array's string shows, given plane-of-array irradiance and air temperature."""
    temp_cell = cell_temperature_c(poa_w_m2, temp_air_c)
    power = dc_power_w(
        poa_w_m2, temp_cell, array.kwp * 1000.0, array.module.gamma_pdc, array.derate
    )
    volts = string_voltage_v(poa_w_m2, temp_cell, array.module, array.modules_in_series)
    volts = np.where(power > 0.0, volts, 0.0)
    amps = np.divide(power, volts, out=np.zeros_like(power), where=volts > 0.0)
    return PVOutput(p_w=power, v_v=volts, i_a=amps)
