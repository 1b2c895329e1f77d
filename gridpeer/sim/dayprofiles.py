"""Per-day PV, load and battery flows of every house, from the device models.

An adapter over :mod:`gridpeer.devices` and :mod:`gridpeer.profiles` (the same models
as the live system): the site's sky (pvlib clear sky + seeded clouds) and each house's
PV orientation and kWp give PV power; loads come from the richardsonpy household bank;
batteries follow the self-consumption dispatch. One call makes one UTC day (96 slots
of 15 minutes) for the whole community, so a year streams a day at a time.

Scale: above ``TEMPLATES`` houses, loads are drawn for ``TEMPLATES`` template houses
and each house follows one template scaled to its own consumption, with its own
log-normal noise per slot (the bank has only 12 households, so this loses nothing
and keeps a 10,000-house day fast). Energies are integer Wh per slot (meter
resolution); everything is seeded by ``(seed, day)``, so every market design sees the
same households and weather.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from gridpeer.devices.battery import BatteryBank, dispatch_self_consumption
from gridpeer.devices.fleet import Fleet, fleet_pv_w
from gridpeer.profiles.cache import default_cache_dir
from gridpeer.profiles.load import MAX_SHIFT_MIN, house_loads_w, richardson_bank
from gridpeer.profiles.site import Site as DeviceSite
from gridpeer.profiles.sky import sky_day
from gridpeer.sim.flexdevices import DeviceDay, FlexDevices, has_devices
from gridpeer.sim.population import Population

if TYPE_CHECKING:
    from gridpeer.sim.mpc import MpcPlanner
from gridpeer.sim.scenario import Scenario, Site
from gridpeer.sim.userdata import DailyProfiles, load_daily_profiles

SLOTS_PER_DAY = 96
SLOT_S = 900
SLOT_H = 0.25
TEMPLATES = 512
LOAD_NOISE = 0.2  # log-normal sigma of each house's own per-slot load noise
ROUND_TRIP = 0.92
SOC_MIN, SOC_MAX, SOC_START = 0.1, 0.95, 0.5

I32 = npt.NDArray[np.int32]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DayEnergy:
    """One day of energy per house and slot, integer Wh, shape ``(houses, 96)``.

    Attributes:
        day: UTC date.
        pv_wh: PV production (>= 0).
        load_wh: consumption (>= 0).
        charge_wh: battery charging (>= 0).
        discharge_wh: battery discharging (>= 0).
        soc: battery SoC at the end of each slot, 0..1 (0 without battery), float32.
        clear_sky_pv_wh: PV under a clear sky (for forecasts), or None if not needed.
        local_hour: local hour at each slot's middle, shape ``(96,)``.
        devices: the day's EV, heat pump, wind and hydro power (None without any);
            EV and heat pump are inside ``load_wh``, wind and hydro inside ``pv_wh``.
    """

    day: date
    pv_wh: I32
    load_wh: I32
    charge_wh: I32
    discharge_wh: I32
    soc: F32
    clear_sky_pv_wh: I32 | None
    local_hour: F64
    devices: DeviceDay | None = None


def device_site(site: Site) -> DeviceSite:
    """The devices layer's site for a scenario site."""
    return DeviceSite(
        name=site.name,
        latitude=site.latitude,
        longitude=site.longitude,
        altitude_m=site.altitude_m,
        utc_offset_h=site.utc_offset_h,
    )


def build_fleet(pop: Population, site: Site, seed: int) -> Fleet:
    """Device parameters of every house: PV orientation (equator-facing ± 45°, tilt
    10–35°), load-bank household and routine shift, batteries (0.92 round trip,
    SoC 0.1..0.95)."""
    rng = np.random.default_rng([seed, 5])
    n = pop.n
    facing = 0.0 if site.latitude < 0 else 180.0
    cap = pop.battery_wh
    power = np.where(cap > 0, pop.battery_power_w, 0.0)
    return Fleet(
        kwp=pop.pv_kwp,
        tilt_deg=np.asarray(5.0 * rng.integers(2, 8, n), dtype=np.float64),
        azimuth_deg=np.asarray((facing + 5.0 * rng.integers(-9, 10, n)) % 360.0),
        bank_household=rng.integers(0, 12, n).astype(np.int64),
        shift_min=rng.integers(-MAX_SHIFT_MIN, MAX_SHIFT_MIN + 1, n).astype(np.int64),
        daily_load_wh=pop.annual_kwh * 1000.0 / 365.0,
        batteries=BatteryBank(
            capacity_wh=cap.astype(np.float64),
            max_charge_w=power,
            max_discharge_w=power,
            round_trip_efficiency=np.full(n, ROUND_TRIP),
            soc_min=np.full(n, SOC_MIN),
            soc_max=np.full(n, SOC_MAX),
        ),
    )


class DayGenerator:
    """Makes :class:`DayEnergy` for a population at a site, day after day (SoC carries)."""

    def __init__(
        self, population: Population, scenario: Scenario, seed: int, clear_sky: bool
    ) -> None:
        site = scenario.site
        self.pop = population
        self.seed = seed
        self.site = device_site(site)
        self.files: list[tuple[npt.NDArray[np.bool_], DailyProfiles]] = [
            (
                population.group == g,
                load_daily_profiles(
                    Path(scenario.base_dir) / grp.data, grp.data_format, grp.data_tz
                ).aligned(scenario.calendar.start, grp.data_align),
            )
            for g, grp in enumerate(scenario.households)
            if grp.data is not None
        ]
        self.data_groups = [grp.data for grp in scenario.households if grp.data is not None]
        self.fleet = build_fleet(population, site, seed)
        self.flex = FlexDevices(population, scenario, seed) if has_devices(population) else None
        self.planner: MpcPlanner | None = None  # set by the engine for dispatch = "mpc"
        self.bank = richardson_bank(cache_dir=default_cache_dir())
        self.clear_sky = clear_sky
        n = population.n
        self.k = min(n, TEMPLATES)
        self.template = np.arange(n) % self.k
        hours = (np.arange(SLOTS_PER_DAY) + 0.5) * SLOT_H + site.utc_offset_h
        self.local_hour = np.mod(hours, 24.0)
        self.soc = np.full(n, SOC_START)

    def warnings(self, days: int) -> list[str]:
        """The data files' warnings for a run of ``days`` days (gaps, unit guesses, cycling)."""
        notes: list[str] = []
        for (_, prof), grp in zip(self.files, self.data_groups, strict=True):
            notes += prof.warnings
            if prof.offset + days > prof.days:
                notes.append(
                    f"{grp}: the file has {prof.days} day(s) but the run needs {days} "
                    f"from file day {prof.offset + 1}: its days repeat (cycling)"
                )
        return notes

    def _loads_w(self, day: date, day_index: int) -> F32:
        f = self.fleet
        if self.k == self.pop.n:
            return house_loads_w(
                self.bank,
                day,
                f.bank_household,
                f.shift_min,
                f.daily_load_wh,
                utc_offset_h=self.site.utc_offset_h,
                seed=self.seed,
                step_s=SLOT_S,
            )
        t = np.arange(self.k)
        base = house_loads_w(
            self.bank,
            day,
            f.bank_household[t],
            f.shift_min[t],
            np.full(self.k, 1000.0),
            utc_offset_h=self.site.utc_offset_h,
            seed=self.seed,
            step_s=SLOT_S,
        )
        rng = np.random.default_rng([self.seed, 6, day_index])
        noise = rng.standard_normal((self.pop.n, SLOTS_PER_DAY), dtype=np.float32)
        noise *= np.float32(LOAD_NOISE)
        noise -= np.float32(LOAD_NOISE * LOAD_NOISE / 2)
        np.exp(noise, out=noise)  # mean 1
        scale = (f.daily_load_wh / 1000.0).astype(np.float32)
        out: F32 = base[self.template] * scale[:, None] * noise
        return out

    def day(self, day: date, day_index: int) -> DayEnergy:
        """Energy of every house on ``day`` (``day_index`` = days since the start)."""
        sky = sky_day(self.site, day, self.seed)
        pv_w = fleet_pv_w(self.fleet, sky, SLOT_S)
        load_w = self._loads_w(day, day_index)
        for rows, prof in self.files:  # houses replaying users' data files
            file_load, file_pv = prof.day(day_index)
            load_w[rows] = file_load.astype(np.float32)
            if file_pv is not None:
                pv_w[rows] = file_pv.astype(np.float32)
        devices = None
        if self.planner is not None:
            planned = self.planner.day(day, pv_w, load_w, self.soc)
            pv_w, load_w, devices = planned.pv_w, planned.load_w, planned.devices
            bess_w, soc = planned.bess_w, planned.soc
        else:
            if self.flex is not None:
                devices = self.flex.day(day)
                load_w += devices.extra_load_w.astype(np.float32)
                pv_w += devices.extra_generation_w.astype(np.float32)
            d = dispatch_self_consumption(pv_w, load_w, self.fleet.batteries, SLOT_S, self.soc)
            bess_w, soc = np.asarray(d.bess_w, np.float64), np.asarray(d.soc, np.float64)
        self.soc = soc[:, -1].astype(np.float64)
        bess_wh = np.rint(bess_w * SLOT_H).astype(np.int32)  # + discharge, - charge
        clear = None
        if self.clear_sky:
            clear_sky = dataclasses.replace(sky, kc=np.ones_like(sky.kc))
            clear_w = fleet_pv_w(self.fleet, clear_sky, SLOT_S)
            for rows, prof in self.files:  # a data house's clear sky: its own history
                own = prof.clear_sky_pv_w(day_index)
                if own is not None:
                    clear_w[rows] = own.astype(np.float32)
            clear = np.rint(clear_w * SLOT_H).astype(np.int32)
        return DayEnergy(
            day=day,
            pv_wh=np.rint(pv_w * SLOT_H).astype(np.int32),
            load_wh=np.rint(load_w * SLOT_H).astype(np.int32),
            charge_wh=np.clip(-bess_wh, 0, None),
            discharge_wh=np.clip(bess_wh, 0, None),
            soc=soc.astype(np.float32, copy=False),
            clear_sky_pv_wh=clear,
            local_hour=self.local_hour,
            devices=devices,
        )
