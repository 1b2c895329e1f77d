"""Per-day PV and load energy for every house, vectorized over ``(houses, slots)``.

One call makes one day (96 slots of 15 minutes) for the whole community, so a year
streams through memory a day at a time. PV is pvlib's clear-sky (Ineichen) global
irradiance for the site times a shared cloud factor (one weather for the community:
a daily clearness drawn per day plus intra-day AR(1) variability) times each house's
kWp, orientation factor and a performance ratio. Load is a residential daily pattern
(morning and evening peaks, in local time) scaled to each house's yearly kWh with a
seasonal swing, a daily level and per-slot noise. Everything is drawn from
``(seed, day)`` so any day can be regenerated alone and every market design sees the
same households and weather. Energies are integer Wh per slot (meter resolution).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from gridpeer.sim.population import Population
from gridpeer.sim.scenario import Site

SLOTS_PER_DAY = 96
SLOT_H = 0.25
PERFORMANCE_RATIO = 0.82

I32 = npt.NDArray[np.int32]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DayEnergy:
    """One day of energy per house and slot, integer Wh.

    Attributes:
        day: UTC date.
        pv_wh: PV production, shape ``(houses, 96)``, Wh (>= 0).
        load_wh: consumption, shape ``(houses, 96)``, Wh (>= 0).
        clear_sky_pv_wh: PV under a clear sky, same shape, Wh (for forecasts).
        local_hour: local hour at each slot's middle, shape ``(96,)``.
    """

    day: date
    pv_wh: I32
    load_wh: I32
    clear_sky_pv_wh: I32
    local_hour: F64


def _base_load_shape(local_hour: F64) -> F64:
    """Residential daily pattern, mean 1 (dimensionless), at the given local hours."""
    h = np.mod(local_hour, 24.0)

    def bump(centre: float, width: float) -> F64:
        d = np.minimum(np.abs(h - centre), 24.0 - np.abs(h - centre))
        return np.asarray(np.exp(-((d / width) ** 2)), dtype=np.float64)

    shape = 0.35 + 0.55 * bump(7.5, 1.3) + 0.3 * bump(13.0, 2.0) + 1.0 * bump(20.5, 2.0)
    return np.asarray(shape / shape.mean(), dtype=np.float64)


def clear_sky_ghi(site: Site, day: date) -> F64:
    """Clear-sky global horizontal irradiance at each slot's middle, W/m² (pvlib Ineichen)."""
    import pandas as pd
    import pvlib

    start = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=7.5)
    times = pd.date_range(start, periods=SLOTS_PER_DAY, freq="15min")
    loc = pvlib.location.Location(site.latitude, site.longitude, altitude=site.altitude_m)
    ghi = loc.get_clearsky(times, model="ineichen")["ghi"].to_numpy(dtype=np.float64)
    return np.asarray(np.clip(ghi, 0.0, None), dtype=np.float64)


class DayGenerator:
    """Makes :class:`DayEnergy` for a population at a site, day by day."""

    def __init__(self, population: Population, site: Site, seed: int) -> None:
        self.pop = population
        self.site = site
        self.seed = seed
        hours = (np.arange(SLOTS_PER_DAY) + 0.5) * SLOT_H + site.utc_offset_h
        self.local_hour = np.mod(hours, 24.0)
        base = _base_load_shape(self.local_hour)
        shifts = np.arange(-2, 3)
        self._shapes = np.stack([np.roll(base, s) for s in shifts]).astype(np.float32)
        self._pv_w_per_wm2 = (population.pv_kwp * population.pv_factor * PERFORMANCE_RATIO).astype(
            np.float32
        )  # W of AC per W/m² of GHI (kWp*1000 W / 1000 W/m²)
        self._mean_daily_wh = (population.annual_kwh * 1000.0 / 365.0).astype(np.float32)

    def _season(self, day: date) -> float:
        """Consumption seasonal factor: higher in the local winter (dimensionless)."""
        doy = day.timetuple().tm_yday
        peak = 196 if self.site.latitude < 0 else 15
        return 1.0 + 0.15 * float(np.cos(2 * np.pi * (doy - peak) / 365.25))

    def day(self, day: date, day_index: int) -> DayEnergy:
        """Energy of every house on ``day`` (``day_index`` = days since the start)."""
        n = self.pop.n
        rng = np.random.default_rng([self.seed, 2, day_index])
        # weather: shared by the whole community
        clearness = float(rng.beta(6.0, 1.5))
        noise = np.empty(SLOTS_PER_DAY)
        x = 0.0
        for t, e in enumerate(rng.standard_normal(SLOTS_PER_DAY)):
            x = 0.8 * x + 0.6 * e
            noise[t] = x
        cloud = np.clip(clearness + (0.5 * (1.0 - clearness) + 0.02) * noise, 0.05, 1.05)
        ghi = clear_sky_ghi(self.site, day).astype(np.float32)
        clear_w = self._pv_w_per_wm2[:, None] * ghi[None, :]
        local = rng.standard_normal((n, SLOTS_PER_DAY), dtype=np.float32)
        local *= np.float32(0.03)
        local += np.float32(1.0)
        pv_w = clear_w * cloud.astype(np.float32)[None, :] * local
        # load: per-house level and pattern, per-slot noise
        level = self._mean_daily_wh * np.float32(self._season(day))
        level = level * rng.lognormal(0.0, 0.15, n).astype(np.float32)
        shape = self._shapes[self.pop.load_shift + 2]
        sigma = 0.35
        slot_noise = rng.standard_normal((n, SLOTS_PER_DAY), dtype=np.float32)
        slot_noise *= np.float32(sigma)
        slot_noise -= np.float32(sigma * sigma / 2)
        np.exp(slot_noise, out=slot_noise)  # lognormal, mean 1
        load_wh = (level / SLOTS_PER_DAY)[:, None] * shape * slot_noise
        return DayEnergy(
            day=day,
            pv_wh=np.rint(np.clip(pv_w, 0.0, None) * SLOT_H).astype(np.int32),
            load_wh=np.rint(load_wh).astype(np.int32),
            clear_sky_pv_wh=np.rint(clear_w * SLOT_H).astype(np.int32),
            local_hour=self.local_hour,
        )
