"""The community's flexible devices for the simulator: EVs, heat pumps, wind, hydro.

An adapter over :mod:`gridpeer.devices` (ev, heatpump, wind, hydro, weather) like
:mod:`gridpeer.sim.dayprofiles` is for PV and load: one call makes one UTC day for
every house, vectorized; device state (EV SoC, tank content) carries from day to day.
Rule-based operation: EVs charge uncontrolled on arrival, heat pumps follow the tank
thermostat. Wind and hydro add to the house's generation (its ``pv_wh`` in the
ledger; their own shares are kept apart for the report). Everything seeded by the
run's seed: the same seed gives the same sessions, temperatures, wind and river.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from gridpeer.devices.ev import EvFleet, charge_uncontrolled, draw_sessions
from gridpeer.devices.heatpump import HeatPumps, run_thermostat
from gridpeer.devices.hydro import (
    CROSS_FLOW_EFF,
    GENERATOR_EFF,
    RHO,
    G,
    RiverFlow,
    hydro_power_w,
)
from gridpeer.devices.weather import WeatherModel
from gridpeer.devices.wind import wind_power_w
from gridpeer.sim.population import Population
from gridpeer.sim.scenario import Scenario

F64 = npt.NDArray[np.float64]
SLOT_H = 0.25
EV_EFFICIENCY = 0.92
EV_WH_PER_KM = 180.0
TANK_LOSS_PER_H = 0.01
WIND_HUB_M = 20.0


@dataclass(frozen=True)
class DeviceDay:
    """One day of the flexible devices, W per house and slot ``(houses, 96)``.

    Attributes:
        ev_w: EV charging (grid side, + charging).  ev_public_wh: driving energy charged
        elsewhere, Wh per house.  hp_w: heat pump electricity.  heat_w: heat delivered.
        unmet_w: heat demand not covered.  wind_w, hydro_w: generation.
    """

    ev_w: F64
    ev_public_wh: F64
    hp_w: F64
    heat_w: F64
    unmet_w: F64
    wind_w: F64
    hydro_w: F64

    @property
    def extra_load_w(self) -> F64:
        """EV charging plus heat pump electricity, W."""
        out: F64 = self.ev_w + self.hp_w
        return out

    @property
    def extra_generation_w(self) -> F64:
        """Wind plus hydro generation, W."""
        out: F64 = self.wind_w + self.hydro_w
        return out


def has_devices(pop: Population) -> bool:
    """Whether any house has an EV, a heat pump, a wind turbine or a hydro plant."""
    return bool(
        (pop.ev_wh > 0).any()
        or (pop.heat_pump_w > 0).any()
        or (pop.wind_w > 0).any()
        or (pop.hydro_w > 0).any()
    )


class FlexDevices:
    """Makes :class:`DeviceDay` for a population, day after day (state carries)."""

    def __init__(self, pop: Population, scenario: Scenario, seed: int) -> None:
        n = pop.n
        self.seed = seed
        self.offset_h = scenario.site.utc_offset_h
        w = scenario.weather
        start = scenario.calendar.start
        self.weather = WeatherModel(
            start,
            seed,
            latitude=scenario.site.latitude,
            utc_offset_h=scenario.site.utc_offset_h,
            mean_c=w.mean_c,
            seasonal_amp_c=w.seasonal_amp_c,
            diurnal_amp_c=w.diurnal_amp_c,
            anomaly_sd_c=w.anomaly_sd_c,
            weibull_k=w.wind_weibull_k,
            weibull_c_ms=w.wind_weibull_c_ms,
        )
        self.river = RiverFlow(start, seed, mean_m3s=w.river_mean_m3s)
        self.ev = EvFleet(
            capacity_wh=pop.ev_wh,
            charger_w=pop.ev_charger_w * (pop.ev_wh > 0),
            v2g=pop.ev_v2g,
            min_soc_departure=pop.ev_min_soc,
            efficiency=np.full(n, EV_EFFICIENCY),
            consumption_wh_per_km=np.full(n, EV_WH_PER_KM),
        )
        self.hp = HeatPumps(
            rated_heat_w=pop.heat_pump_w,
            ua_w_per_k=pop.heat_loss_w_per_k,
            tank_wh=pop.tank_wh * (pop.heat_pump_w > 0),
            loss_per_h=np.full(n, TANK_LOSS_PER_H),
        )
        self.wind_rated = pop.wind_w
        self.hydro_head = pop.hydro_head_m
        # design flow: rated power (the plant's maximum) at full design flow
        self.hydro_design = pop.hydro_w / (
            RHO * G * pop.hydro_head_m * CROSS_FLOW_EFF[-1] * GENERATOR_EFF
        )
        self.ev_soc = np.full(n, 0.8) * (pop.ev_wh > 0)
        self.tank = 0.5 * self.hp.tank_wh
        self.any_ev = bool((pop.ev_wh > 0).any())
        self.any_hp = bool((pop.heat_pump_w > 0).any())
        self.any_wind = bool((pop.wind_w > 0).any())
        self.any_hydro = bool((pop.hydro_w > 0).any())
        self.n = n

    def day(self, day: date, operate: bool = True) -> DeviceDay:
        """Operate every device on ``day`` (rule-based), W per house and slot; with
        ``operate`` False only wind and hydro (an optimiser runs the EVs and heat pumps)."""
        zeros = np.zeros((self.n, 96))
        ev_w, hp_w, heat_w, unmet_w = zeros, zeros, zeros, zeros
        public = np.zeros(self.n)
        if self.any_ev and operate:
            sessions = draw_sessions(self.ev, day, self.seed, self.offset_h)
            ev = charge_uncontrolled(self.ev, sessions, self.ev_soc)
            ev_w, public = ev.power_w, ev.public_wh
            self.ev_soc = ev.soc[:, -1]
        if self.any_hp and operate:
            hp = run_thermostat(self.hp, self.weather.temperature_c(day), self.tank)
            hp_w, heat_w, unmet_w = hp.electric_w, hp.heat_w, hp.unmet_w
            self.tank = hp.tank[:, -1] * self.hp.tank_wh
        wind = zeros
        if self.any_wind:
            wind = wind_power_w(self.weather.wind_ms(day, WIND_HUB_M), self.wind_rated)
        hydro = zeros
        if self.any_hydro:
            hydro = hydro_power_w(self.river.day(day), self.hydro_head, self.hydro_design)
        return DeviceDay(ev_w, public, hp_w, heat_w, unmet_w, wind, hydro)
