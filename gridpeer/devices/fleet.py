"""Many houses at once: PV, load and battery dispatch as (houses, steps) arrays.

For community simulations (1,000 to 10,000 houses, days to a year). One site's sky is
shared by all houses; each house has its own PV size and orientation, load draw from the
bank (:mod:`gridpeer.profiles.load`) and battery. Days are generated one at a time, so a
year streams in constant memory; arrays are float32. Powers W, energies Wh, SoC 0..1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from gridpeer.devices.balance import Flows, flows_wh
from gridpeer.devices.battery import BatteryBank, dispatch_self_consumption
from gridpeer.devices.pv import cell_temperature_c, dc_power_w
from gridpeer.profiles.load import MAX_SHIFT_MIN, LoadBank, house_loads_w, richardson_bank
from gridpeer.profiles.resolution import check_step, from_minutes
from gridpeer.profiles.site import Site
from gridpeer.profiles.sky import SkyDay, plane_of_array, sky_day

F32Array = npt.NDArray[np.float32]
F64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Fleet:
    """Per-house parameters, arrays shaped (houses,).

    Attributes:
        kwp: PV rated power, kW (0 = no PV).
        tilt_deg: PV tilt, degrees 0..90.
        azimuth_deg: PV facing direction, degrees east of north.
        bank_household: index of the load-bank household each house follows.
        shift_min: time shift of the house's routine, minutes (|shift| <= 45).
        daily_load_wh: mean daily consumption, Wh.
        batteries: the houses' batteries (capacity 0 = none).
        pv_derate: fraction of DC power left after losses, 0..1 (all houses).
    """

    kwp: F64Array
    tilt_deg: F64Array
    azimuth_deg: F64Array
    bank_household: IntArray
    shift_min: IntArray
    daily_load_wh: F64Array
    batteries: BatteryBank
    pv_derate: float = 0.9

    def __post_init__(self) -> None:
        n = self.kwp.shape
        for name in ("tilt_deg", "azimuth_deg", "bank_household", "shift_min", "daily_load_wh"):
            if getattr(self, name).shape != n:
                raise ValueError(f"{name} must have shape {n}")
        if len(self.batteries) != n[0]:
            raise ValueError("one battery entry per house is required")
        if np.any(self.kwp < 0.0) or np.any(self.daily_load_wh < 0.0):
            raise ValueError("kWp and daily load must be >= 0")
        if np.any((self.tilt_deg < 0.0) | (self.tilt_deg > 90.0)):
            raise ValueError("tilt must be within 0..90 degrees")

    def __len__(self) -> int:
        return int(self.kwp.shape[0])

    @classmethod
    def random(
        cls,
        houses: int,
        seed: int = 0,
        *,
        pv_share: float = 0.6,
        battery_share: float = 0.5,
        mean_annual_kwh: float = 3_000.0,
        bank_households: int = 12,
    ) -> Fleet:
        """A seeded random community: ``pv_share`` of houses have 1.5–6 kWp PV (tilts 10–35°,
        facing north ± 45°, on a 5° grid), ``battery_share`` of the PV houses a 48 V battery
        of 1–3 kWh per kWp (0.5 C); annual consumption log-normal around ``mean_annual_kwh``."""
        if houses < 1:
            raise ValueError("a fleet needs at least one house")
        if not (0.0 <= pv_share <= 1.0 and 0.0 <= battery_share <= 1.0):
            raise ValueError("shares must be within 0..1")
        rng = np.random.default_rng([seed, 4])
        has_pv = rng.random(houses) < pv_share
        kwp = np.where(has_pv, np.round(rng.uniform(1.5, 6.0, houses), 1), 0.0)
        has_bess = has_pv & (rng.random(houses) < battery_share)
        capacity = np.where(
            has_bess, np.round(kwp * rng.uniform(1.0, 3.0, houses), 1) * 1000.0, 0.0
        )
        annual_kwh = mean_annual_kwh * rng.lognormal(-0.045, 0.3, houses)
        return cls(
            kwp=kwp,
            tilt_deg=np.asarray(5.0 * rng.integers(2, 8, houses), dtype=np.float64),
            azimuth_deg=np.asarray((5.0 * rng.integers(-9, 10, houses)) % 360.0, dtype=np.float64),
            bank_household=rng.integers(0, bank_households, houses),
            shift_min=rng.integers(-MAX_SHIFT_MIN, MAX_SHIFT_MIN + 1, houses),
            daily_load_wh=annual_kwh * 1000.0 / 365.0,
            batteries=BatteryBank(
                capacity_wh=capacity,
                max_charge_w=0.5 * capacity,
                max_discharge_w=0.5 * capacity,
                round_trip_efficiency=np.full(houses, 0.92),
                soc_min=np.full(houses, 0.1),
                soc_max=np.full(houses, 0.95),
            ),
        )


@dataclass(frozen=True)
class FleetDay:
    """One simulated day of a fleet; power arrays (houses, steps) float32, W.

    Attributes:
        start: UTC midnight of the day.
        step_s: step length, s.
        load_w, pv_w: consumption and production (>= 0).
        bess_w: battery power, positive = discharge.
        soc: battery SoC at the end of each step, 0..1 (0 without battery).
        grid_w: net grid power, positive = import.
    """

    start: datetime
    step_s: int
    load_w: F32Array
    pv_w: F32Array
    bess_w: F32Array
    soc: F32Array
    grid_w: F32Array

    def flows(self) -> Flows:
        """The six energy flows per house and step, Wh."""
        return flows_wh(self.load_w, self.pv_w, self.bess_w, self.grid_w, self.step_s)


def fleet_pv_w(fleet: Fleet, sky: SkyDay, step_s: int) -> F32Array:
    """PV power of every house, W, (houses, 86400 / step_s) float32.

    Irradiance and the per-watt PVWatts output are computed once per distinct
    orientation and scaled by each house's kWp (PVWatts is linear in rated power).
    """
    check_step(step_s)
    steps = 86_400 // step_s
    out = np.zeros((len(fleet), steps), dtype=np.float32)
    with_pv = np.flatnonzero(fleet.kwp > 0.0)
    if with_pv.size == 0:
        return out
    orientations = np.stack([fleet.tilt_deg[with_pv], fleet.azimuth_deg[with_pv]], axis=1)
    unique, which = np.unique(orientations, axis=0, return_inverse=True)
    poa = plane_of_array(sky, unique[:, 0], unique[:, 1])
    temp_cell = cell_temperature_c(poa, sky.temp_air_c[None, :])
    per_watt = from_minutes(dc_power_w(poa, temp_cell, 1.0, derate=fleet.pv_derate), step_s)
    out[with_pv] = (per_watt[which.ravel()] * (fleet.kwp[with_pv, None] * 1000.0)).astype(
        np.float32
    )
    return out


def simulate_fleet_day(
    fleet: Fleet,
    site: Site,
    day: date,
    *,
    step_s: int = 900,
    seed: int = 0,
    bank: LoadBank | None = None,
    soc_initial: npt.ArrayLike = 0.5,
) -> FleetDay:
    """PV, load and self-consumption dispatch of every house over UTC day ``day``.

    ``seed`` drives weather and loads; ``bank`` defaults to :func:`richardson_bank`
    (12 households, seed 0); ``soc_initial`` is the SoC before the first step (scalar or
    per house).
    """
    check_step(step_s)
    bank = bank if bank is not None else richardson_bank()
    if int(fleet.bank_household.max(initial=0)) >= bank.households:
        raise ValueError(f"fleet refers to bank households beyond the bank's {bank.households}")
    sky = sky_day(site, day, seed)
    pv = fleet_pv_w(fleet, sky, step_s)
    load = house_loads_w(
        bank,
        day,
        fleet.bank_household,
        fleet.shift_min,
        fleet.daily_load_wh,
        utc_offset_h=site.utc_offset_h,
        seed=seed,
        step_s=step_s,
    )
    dispatch = dispatch_self_consumption(pv, load, fleet.batteries, step_s, soc_initial)
    return FleetDay(
        start=datetime(day.year, day.month, day.day, tzinfo=UTC),
        step_s=step_s,
        load_w=load,
        pv_w=pv,
        bess_w=dispatch.bess_w.astype(np.float32, copy=False),
        soc=dispatch.soc.astype(np.float32, copy=False),
        grid_w=dispatch.grid_w.astype(np.float32, copy=False),
    )


def iter_fleet_days(
    fleet: Fleet,
    site: Site,
    start: date,
    days: int,
    *,
    step_s: int = 900,
    seed: int = 0,
    bank: LoadBank | None = None,
    soc_initial: npt.ArrayLike = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[FleetDay]:
    """Simulate ``days`` consecutive UTC days, one :class:`FleetDay` at a time, carrying
    each battery's SoC over midnight. ``progress(done, total)`` after each day."""
    if days < 1:
        raise ValueError("days must be >= 1")
    bank = bank if bank is not None else richardson_bank()
    soc: npt.ArrayLike = soc_initial
    for i in range(days):
        result = simulate_fleet_day(
            fleet,
            site,
            start + timedelta(days=i),
            step_s=step_s,
            seed=seed,
            bank=bank,
            soc_initial=soc,
        )
        soc = result.soc[:, -1].astype(np.float64)
        if progress is not None:
            progress(i + 1, days)
        yield result
