"""One house, simulated: PV (with string V/I), battery (with terminal V), load, meter.

:func:`simulate_house` produces a :class:`~gridpeer.devices.trace.HouseTrace` for the
live demo and the home agents; :func:`thesis_lab_houses` is the thesis's 5-house lab.
It shares the vectorized models of :mod:`gridpeer.devices.fleet`, with one house.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
from scipy.signal import lfilter

from gridpeer.devices.battery import (
    BatteryBank,
    BatterySpec,
    dispatch_self_consumption,
    terminal_voltage_v,
)
from gridpeer.devices.ev import EvSpec, charge_uncontrolled, draw_sessions
from gridpeer.devices.pv import PVArray, array_output
from gridpeer.devices.trace import FloatArray, HouseTrace
from gridpeer.profiles.load import MAX_SHIFT_MIN, LoadBank, house_loads_w, richardson_bank
from gridpeer.profiles.resolution import check_step, from_minutes
from gridpeer.profiles.site import VALPARAISO, Site
from gridpeer.profiles.sky import plane_of_array, sky_day

_FEEDER_OHM = 0.25  # line resistance from transformer to meter, Ω


@dataclass(frozen=True)
class HouseConfig:
    """What a house has.

    Attributes:
        house: house id, e.g. ``"h1"``.
        pv: PV array, or None for a consumer.
        battery: battery, or None.
        annual_load_kwh: mean yearly consumption, kWh.
        site: where the house stands.
        mains_nominal_v: nominal mains voltage, V (Chile: 220 V).
        ev: an electric car charged at home, or None.
    """

    house: str
    pv: PVArray | None = None
    battery: BatterySpec | None = None
    annual_load_kwh: float = 3_000.0
    site: Site = field(default=VALPARAISO)
    mains_nominal_v: float = 220.0
    ev: EvSpec | None = None

    def __post_init__(self) -> None:
        if not self.house:
            raise ValueError("house id must not be empty")
        if not 0.0 <= self.annual_load_kwh <= 1_000_000.0:
            raise ValueError(f"annual load must be in 0..1e6 kWh, got {self.annual_load_kwh}")
        if not 50.0 <= self.mains_nominal_v <= 480.0:
            raise ValueError(f"mains voltage must be in 50..480 V, got {self.mains_nominal_v}")


def thesis_lab_houses(lab_scale: bool = False, site: Site = VALPARAISO) -> list[HouseConfig]:
    """The thesis's 5-house lab: h1, h2 with PV + battery, h3 with PV only, h4, h5 consumers.

    Default kW-scale houses (3 kWp, 5 kWh / 2.5 kW batteries, 2,500–3,500 kWh/yr). With
    ``lab_scale`` the prosumers have the 10 W lab panel and a 12 V lead-acid block and all
    houses a bench-size load (~40 Wh per day).
    """
    specs: list[tuple[PVArray | None, BatterySpec | None, float]]
    if lab_scale:
        panel = PVArray.lab_panel()
        bess = BatterySpec.lab_lead_acid()
        load = 0.04 * 365.0
        specs = [(panel, bess, load), (panel, bess, load), (panel, None, load)]
        specs += [(None, None, load), (None, None, load)]
    else:
        specs = [
            (PVArray(3.0), BatterySpec.home(5_000.0), 3_000.0),
            (PVArray(3.0, azimuth_deg=20.0), BatterySpec.home(5_000.0), 3_500.0),
            (PVArray(2.5, tilt_deg=20.0), None, 2_800.0),
            (None, None, 2_500.0),
            (None, None, 3_200.0),
        ]
    return [
        HouseConfig(house=f"h{i + 1}", pv=pv, battery=bess, annual_load_kwh=kwh, site=site)
        for i, (pv, bess, kwh) in enumerate(specs)
    ]


def house_seed(seed: int, house: str) -> int:
    """The seed of one house's load and car sessions, from the run's ``seed``."""
    return (seed * 1_000_003 + zlib.crc32(house.encode())) % 2**63


def _utc_midnight(start: date | datetime) -> date:
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        utc = start.astimezone(UTC)
        if (utc.hour, utc.minute, utc.second, utc.microsecond) != (0, 0, 0, 0):
            raise ValueError("start must be a UTC midnight (or a date)")
        return utc.date()
    return start


def simulate_house(
    config: HouseConfig,
    start: date | datetime,
    days: int = 1,
    step_s: int = 60,
    seed: int = 0,
    *,
    bank: LoadBank | None = None,
    ev_soc: float | None = None,
) -> HouseTrace:
    """Simulate one house from UTC midnight ``start`` for ``days`` days at ``step_s`` s.

    ``seed`` drives the weather (shared by houses at the same site with the same seed) and,
    mixed with the house id, the household's load and its car's sessions. A car
    (``config.ev``, starting at SoC ``ev_soc``, default its initial one) plugs in per the
    simulator's session model (:func:`gridpeer.devices.ev.draw_sessions`) and charges at
    full power until full (:func:`~gridpeer.devices.ev.charge_uncontrolled`); its power
    is part of the house's load (the meter measures it), so the battery and the grid
    supply it like any load. Deterministic for equal inputs.
    """
    check_step(step_s)
    if not 1 <= days <= 3660:
        raise ValueError(f"days must be in 1..3660, got {days}")
    first = _utc_midnight(start)
    bank = bank if bank is not None else richardson_bank()
    hseed = house_seed(seed, config.house)
    rng = np.random.default_rng([hseed, 5])
    household = rng.integers(0, bank.households, 1)
    shift = rng.integers(-MAX_SHIFT_MIN, MAX_SHIFT_MIN + 1, 1)
    daily_wh = np.array([config.annual_load_kwh * 1000.0 / 365.0])
    batteries = BatteryBank.of([config.battery])
    soc = np.array([config.battery.soc_initial if config.battery else 0.0])
    ev = config.ev
    car_soc = np.array([ev.soc_initial if ev_soc is None else ev_soc]) if ev else np.zeros(1)

    parts: dict[str, list[FloatArray]] = {k: [] for k in HouseTrace.__dataclass_fields__}
    for i in range(days):
        day = first + timedelta(days=i)
        load = house_loads_w(
            bank,
            day,
            household,
            shift,
            daily_wh,
            utc_offset_h=config.site.utc_offset_h,
            seed=hseed,
            step_s=step_s,
        ).astype(np.float64)
        pv_p, pv_v, pv_i = _pv(config, day, seed, step_s, load.shape[1])
        if ev is not None:
            fleet = ev.fleet()
            sessions = draw_sessions(fleet, day, hseed, config.site.utc_offset_h)
            car = charge_uncontrolled(fleet, sessions, car_soc)
            car_soc = car.soc[:, -1]
            ev_w = from_minutes(np.repeat(car.power_w[0], 15), step_s)
            load = load + ev_w[None, :]
            parts["ev_w"].append(ev_w)
            parts["ev_soc"].append(from_minutes(np.repeat(car.soc[0], 15), step_s))
        dispatch = dispatch_self_consumption(pv_p[None, :], load, batteries, step_s, soc)
        soc = dispatch.soc[:, -1].astype(np.float64)
        bess_w = dispatch.bess_w[0].astype(np.float64)
        grid_w = dispatch.grid_w[0].astype(np.float64)
        if config.battery is not None:
            bess_v = np.asarray(
                terminal_voltage_v(config.battery, dispatch.soc[0], bess_w), dtype=np.float64
            )
        else:
            bess_v = np.zeros_like(bess_w)
        parts["load_w"].append(load[0])
        parts["pv_w"].append(pv_p)
        parts["pv_v"].append(pv_v)
        parts["pv_i"].append(pv_i)
        parts["bess_w"].append(bess_w)
        parts["bess_v"].append(bess_v)
        parts["soc"].append(np.asarray(dispatch.soc[0], dtype=np.float64))
        parts["grid_w"].append(grid_w)
        parts["mains_v"].append(_mains_v(config, day, seed, step_s, grid_w))
    arrays = {k: np.concatenate(v) for k, v in parts.items() if v}
    return HouseTrace(
        house=config.house,
        start=datetime(first.year, first.month, first.day, tzinfo=UTC),
        step_s=step_s,
        **arrays,
    )


def _pv(
    config: HouseConfig, day: date, seed: int, step_s: int, steps: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """PV power (W), string voltage (V) and current (A) per step."""
    if config.pv is None:
        zeros = np.zeros(steps)
        return zeros, zeros.copy(), zeros.copy()
    sky = sky_day(config.site, day, seed)
    poa = plane_of_array(sky, config.pv.tilt_deg, config.pv.azimuth_deg)[0]
    out = array_output(config.pv, poa, sky.temp_air_c)
    power = from_minutes(out.p_w, step_s)
    lit = from_minutes((out.v_v > 0.0).astype(np.float64), step_s)
    volts = np.divide(from_minutes(out.v_v, step_s), lit, out=np.zeros(steps), where=lit > 0.0)
    amps = np.divide(power, volts, out=np.zeros(steps), where=volts > 0.0)
    return power, volts, amps


def _mains_v(
    config: HouseConfig, day: date, seed: int, step_s: int, grid_w: FloatArray
) -> FloatArray:
    """Mains voltage at the meter, V: nominal, a slow seeded wander of the feeder (±~1 %),
    minus the drop of the house's own grid current over the service line."""
    rng = np.random.default_rng([seed, day.toordinal(), 6])
    phi = float(np.exp(-1.0 / 30.0))
    wander = lfilter([np.sqrt(1.0 - phi**2)], [1.0, -phi], rng.standard_normal(1440))
    wander_v = from_minutes(wander * 0.008 * config.mains_nominal_v, step_s)
    drop_v = _FEEDER_OHM * grid_w / config.mains_nominal_v
    volts: FloatArray = config.mains_nominal_v + wander_v - drop_v
    return volts
