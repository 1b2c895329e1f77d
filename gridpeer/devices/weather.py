"""A seeded weather model for a site: outdoor temperature and wind speed per slot.

Temperature (°C, slot middle, local hour ``h``, day of year ``d``)::

    T = mean_c + seasonal_amp_c · cos(2π (d − coldest_doy) / 365.25 + π)
        + anomaly_day + diurnal_amp_c · cos(2π (h − 15) / 24)

so the coldest day is ``coldest_doy`` (15 in the north, 196 in the south) and the
warmest hour 15:00; ``anomaly_day`` is an AR(1) series across days (φ = 0.7,
σ = ``anomaly_sd_c``). Wind speed at ``ref_height_m`` (m/s) is Weibull(``k``, ``c``)
distributed: a Gaussian AR(1) series per slot (φ = 0.98 per 15 minutes, i.e. weather
that persists for hours) mapped through the normal CDF and the Weibull quantile
function. Both series run continuously from the model's start day, seeded by ``seed``
(same seed, same weather). The defaults are assumptions of a temperate coastal site,
not measurements; give a site's own statistics where known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
SLOTS = 96
DAY_PHI = 0.7
SLOT_PHI = 0.98


def _norm_cdf(z: F64) -> F64:
    from scipy.special import ndtr

    out: F64 = np.asarray(ndtr(z), dtype=np.float64)
    return out


@dataclass
class WeatherModel:
    """Outdoor temperature and wind of one site (see the module docstring)."""

    start: date
    seed: int
    latitude: float = 45.0
    utc_offset_h: float = 0.0
    mean_c: float = 11.0
    seasonal_amp_c: float = 8.0
    diurnal_amp_c: float = 4.0
    anomaly_sd_c: float = 2.5
    weibull_k: float = 2.0
    weibull_c_ms: float = 6.0
    ref_height_m: float = 10.0
    _anomaly: list[float] = field(default_factory=list, repr=False)
    _wind_z: list[F64] = field(default_factory=list, repr=False)

    @property
    def coldest_doy(self) -> int:
        """Day of the year of the lowest mean temperature (hemisphere by latitude)."""
        return 15 if self.latitude >= 0 else 196

    def _grow(self, index: int) -> None:
        while len(self._anomaly) <= index:  # sequential AR(1) from the start day
            k = len(self._anomaly)
            rng_day = np.random.default_rng([self.seed, 21, k])
            prev = self._anomaly[-1] if self._anomaly else 0.0
            innov = self.anomaly_sd_c * math.sqrt(1 - DAY_PHI**2) * rng_day.standard_normal()
            self._anomaly.append(DAY_PHI * prev + innov)
            rng = np.random.default_rng([self.seed, 22, k])
            z = np.empty(SLOTS)
            last = float(self._wind_z[-1][-1]) if self._wind_z else rng.standard_normal()
            eps = rng.standard_normal(SLOTS) * math.sqrt(1 - SLOT_PHI**2)
            for t in range(SLOTS):
                last = SLOT_PHI * last + eps[t]
                z[t] = last
            self._wind_z.append(z)

    def _index(self, day: date) -> int:
        index = (day - self.start).days
        if index < 0:
            raise ValueError(f"{day} is before the weather model's start {self.start}")
        self._grow(index)
        return index

    def temperature_c(self, day: date) -> F64:
        """Outdoor temperature at each UTC slot's middle of ``day``, °C, shape ``(96,)``."""
        i = self._index(day)
        doy = day.timetuple().tm_yday
        season = self.seasonal_amp_c * math.cos(
            2 * math.pi * (doy - self.coldest_doy) / 365.25 + math.pi
        )
        local_h = ((np.arange(SLOTS) + 0.5) / 4 + self.utc_offset_h) % 24
        diurnal = self.diurnal_amp_c * np.cos(2 * np.pi * (local_h - 15.0) / 24.0)
        out: F64 = self.mean_c + season + self._anomaly[i] + diurnal
        return out

    def wind_ms(self, day: date, height_m: float | None = None) -> F64:
        """Wind speed per UTC slot of ``day``, m/s, at ``height_m`` (Hellman's power law
        with exponent 1/7 from ``ref_height_m``), shape ``(96,)``."""
        i = self._index(day)
        u = np.clip(_norm_cdf(self._wind_z[i]), 1e-12, 1 - 1e-12)
        v = self.weibull_c_ms * (-np.log1p(-u)) ** (1.0 / self.weibull_k)
        if height_m is not None and height_m != self.ref_height_m:
            from windpowerlib.wind_speed import hellman

            v = np.asarray(hellman(v, self.ref_height_m, height_m, hellman_exponent=1 / 7))
        out: F64 = np.asarray(v, dtype=np.float64)
        return out
