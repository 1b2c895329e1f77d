"""Model-predictive home agents for the simulator (``strategy.dispatch = "mpc"``).

Every day at midnight UTC each house with a battery, an EV or a heat pump plans its next
96 slots with :func:`gridpeer.devices.schedule.solve` (houses with the same devices
batched, ``MPC_BATCH`` per HiGHS solve) from its forecast of generation and inflexible
load (the run's forecast mode: the same information the rule-based agents get), its own
EV plans (sessions) and heat demand (the weather model's temperature, taken as forecast
exactly: a limit), and the prices it expects per slot (an EV must end the day at its
departure SoC, ready for the next morning beyond the horizon):

* buying: ``import − (import − mid)·min(1, Ŝ/D̂)`` and selling:
  ``feed_in + (mid − feed_in)·min(1, D̂/Ŝ)``, with ``mid`` the midpoint of the tariffs
  and ``Ŝ``, ``D̂`` the community's forecast surplus and deficit in the slot: the share
  of a house's trade the P2P market is expected to take, at the midpoint price.

The plan is then executed against the real day: the battery and EV follow the planned
power within their physical limits, the heat pump delivers the planned heat and the
tank absorbs what the plan did not foresee. A battery may charge from the grid or the
market and discharge into it: the residual the agent trades includes its battery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from gridpeer.devices.battery import BatteryBank, one_way_efficiency
from gridpeer.devices.ev import draw_sessions, step_energy
from gridpeer.devices.heatpump import heat_demand_w, performance, tank_step
from gridpeer.devices.schedule import FlexProblem, solve
from gridpeer.sim.flexdevices import DeviceDay, FlexDevices

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
SLOTS = 96
DT_H = 0.25
MPC_BATCH = 25
Forecast = Callable[[F64, F64], tuple[F64, F64]]
"""(real generation Wh, real inflexible load Wh) → the agents' forecast of both, Wh."""


@dataclass(frozen=True)
class PlannedDay:
    """A day operated by the MPC agents: powers W ``(houses, 96)``, battery SoC 0..1."""

    pv_w: F32
    load_w: F32
    bess_w: F64
    soc: F64
    devices: DeviceDay | None


class MpcPlanner:
    """Plans and executes every flexible house's day (see the module docstring)."""

    def __init__(self, batteries: BatteryBank, flex: FlexDevices | None, n: int) -> None:
        self.bank = batteries
        self.flex = flex
        self.n = n
        self.solves = 0
        self.tariff: tuple[F64, float] = (np.ones(SLOTS), 0.0)  # wei/kWh per slot, feed-in
        self.forecast: Forecast = lambda g, load: (g, load)
        kind = (batteries.capacity_wh > 0).astype(np.int64)
        if flex is not None:
            kind += 2 * (flex.ev.capacity_wh > 0) + 4 * (flex.hp.rated_heat_w > 0)
        # batches of houses with the same devices: each LP holds only their variables
        self.batches = [
            rows[lo : lo + MPC_BATCH]
            for kd in np.unique(kind[kind > 0])
            for rows in [np.flatnonzero(kind == kd)]
            for lo in range(0, rows.size, MPC_BATCH)
        ]

    def prices(self, gen_wh: F64, load_wh: F64) -> tuple[F64, F64]:
        """Expected (buy, sell) price per slot, normalised per Wh (see the docstring)."""
        imp, fi = self.tariff
        top = float(max(imp.max(), 1.0))
        net = gen_wh - load_wh
        s = np.clip(net, 0, None).sum(axis=0)
        d = np.clip(-net, 0, None).sum(axis=0)
        mid = (imp + fi) / 2
        rho_b = np.divide(s, d, out=np.zeros(SLOTS), where=d > 0).clip(0, 1)
        rho_s = np.divide(d, s, out=np.zeros(SLOTS), where=s > 0).clip(0, 1)
        buy = (imp - (imp - mid) * rho_b) / top / 1000
        sell = (fi + (mid - fi) * rho_s) / top / 1000
        return buy, sell

    def day(self, day: date, pv_w: F32, base_load_w: F32, soc0: F64) -> PlannedDay:
        """Plan with forecasts, then operate the real day."""
        n = self.n
        flex = self.flex
        zeros = np.zeros((n, SLOTS))
        wind = hydro = zeros
        home = np.ones((n, SLOTS), dtype=np.bool_)
        trip = zeros
        departure = np.full(n, -1)
        t_out = np.full(SLOTS, 20.0)
        if flex is not None:
            dev = flex.day(day, operate=False)
            wind, hydro = dev.wind_w, dev.hydro_w
            if flex.any_ev:
                sess = draw_sessions(flex.ev, day, flex.seed, flex.offset_h)
                home, trip, departure = sess.home, sess.trip_wh, sess.departure
            if flex.any_hp:
                t_out = flex.weather.temperature_c(day)
        gen_w = pv_w.astype(np.float64) + wind + hydro
        fc_gen, fc_load = self.forecast(gen_w * DT_H, base_load_w.astype(np.float64) * DT_H)
        buy, sell = self.prices(fc_gen, fc_load)
        plan = {k: np.zeros((n, SLOTS)) for k in ("bc", "bd", "ec", "ed", "hh")}
        for rows in self.batches:
            p = self._problem(rows, fc_gen, fc_load, buy, sell, soc0, home, trip, departure, t_out)
            sched = solve(p)
            self.solves += 1
            for k in plan:
                plan[k][rows] = sched[k]
        return self._operate(pv_w, gen_w, base_load_w, soc0, plan, trip, t_out, wind, hydro)

    def _problem(
        self,
        rows: npt.NDArray[np.int64],
        gen: F64,
        load: F64,
        buy: F64,
        sell: F64,
        soc0: F64,
        home: npt.NDArray[np.bool_],
        trip: F64,
        departure: npt.NDArray[np.int64],
        t_out: F64,
    ) -> FlexProblem:
        k = rows.size
        b = self.bank
        zk = np.zeros(k)
        zz = np.zeros((k, SLOTS))
        flex = self.flex
        if flex is not None:
            ev, hp = flex.ev, flex.hp
            ev_wh = ev.capacity_wh[rows]
            start = flex.ev_soc[rows] * ev_wh
            need = zz.copy()
            has_dep = departure[rows] > 0
            charge_slot = ev.charger_w[rows] * DT_H * ev.efficiency[rows]
            for i in np.flatnonzero(has_dep):
                t = int(departure[rows][i]) - 1
                reachable = start[i] + charge_slot[i] * home[rows[i], : t + 1].sum()
                need[i, t] = min(ev.min_soc_departure[rows][i] * ev_wh[i], reachable, ev_wh[i])
            # the day ends with the car ready for tomorrow's departure (beyond the horizon):
            # at least min_soc at the last slot, as far as the charger can get it there
            low = np.clip(start - trip[rows].sum(axis=1), 0.0, None)
            reach_end = low + charge_slot * home[rows].sum(axis=1)
            need[:, -1] = np.minimum.reduce(
                [ev.min_soc_departure[rows] * ev_wh, reach_end, ev_wh]
            ) * (ev_wh > 0)
            cop1, pth1 = performance(t_out)
            demand = heat_demand_w(hp, t_out[None, :] + np.zeros((self.n, 1)))[rows]
            ev_args = dict(
                ev_wh=ev_wh,
                ev_power_w=ev.charger_w[rows],
                ev_eff=ev.efficiency[rows],
                ev_v2g=ev.v2g[rows],
                ev_start_wh=start,
                ev_home=home[rows],
                ev_trip_wh=trip[rows],
                ev_need_wh=need,
                hp_heat_max_w=hp.rated_heat_w[rows][:, None] * pth1[None, :],
                hp_cop=np.broadcast_to(cop1, (k, SLOTS)).copy(),
                heat_demand_w=demand,
                tank_wh=hp.tank_wh[rows],
                tank_loss_per_h=hp.loss_per_h[rows],
                tank_start_wh=flex.tank[rows],
            )
        else:
            ev_args = dict(
                ev_wh=zk,
                ev_power_w=zk,
                ev_eff=np.ones(k),
                ev_v2g=np.zeros(k, dtype=np.bool_),
                ev_start_wh=zk,
                ev_home=np.ones((k, SLOTS), dtype=np.bool_),
                ev_trip_wh=zz,
                ev_need_wh=zz,
                hp_heat_max_w=zz,
                hp_cop=np.ones((k, SLOTS)),
                heat_demand_w=zz,
                tank_wh=zk,
                tank_loss_per_h=zk,
                tank_start_wh=zk,
            )
        return FlexProblem(
            dt_h=DT_H,
            pv_wh=gen[rows],
            load_wh=load[rows],
            buy_price=np.broadcast_to(buy, (k, SLOTS)).copy(),
            sell_price=np.broadcast_to(sell, (k, SLOTS)).copy(),
            batt_wh=np.asarray(b.capacity_wh[rows], dtype=np.float64),
            batt_power_w=np.minimum(b.max_charge_w, b.max_discharge_w)[rows],
            batt_eff=np.asarray(one_way_efficiency(b.round_trip_efficiency)[rows], np.float64),
            batt_soc_min=np.asarray(b.soc_min[rows], dtype=np.float64),
            batt_soc_max=np.asarray(b.soc_max[rows], dtype=np.float64),
            batt_start_wh=soc0[rows] * b.capacity_wh[rows],
            **ev_args,  # type: ignore[arg-type]
        )

    def _operate(
        self,
        pv_w: F32,
        gen_w: F64,
        base_load_w: F32,
        soc0: F64,
        plan: dict[str, F64],
        trip: F64,
        t_out: F64,
        wind: F64,
        hydro: F64,
    ) -> PlannedDay:
        n = self.n
        b = self.bank
        cap = b.capacity_wh
        eta = one_way_efficiency(b.round_trip_efficiency)
        e = np.clip(soc0 * cap, b.soc_min * cap, b.soc_max * cap)
        bess = np.zeros((n, SLOTS))
        soc = np.zeros((n, SLOTS))
        want = plan["bc"] - plan["bd"]
        safe = np.where(cap > 0, cap, 1.0)
        for t in range(SLOTS):
            c = np.minimum(
                np.clip(want[:, t], 0, None), np.clip(b.soc_max * cap - e, 0, None) / eta
            )
            d = np.minimum(
                np.clip(-want[:, t], 0, None), np.clip(e - b.soc_min * cap, 0, None) * eta
            )
            e = e + c * eta - d / eta
            bess[:, t] = (d - c) / DT_H
            soc[:, t] = np.where(cap > 0, e / safe, 0.0)
        flex = self.flex
        ev_w = hp_w = heat_w = unmet_w = np.zeros((n, SLOTS))
        public = np.zeros(n)
        if flex is not None and flex.any_ev:
            ev_w = (plan["ec"] - plan["ed"]) / DT_H
            stored = flex.ev_soc * flex.ev.capacity_wh
            for t in range(SLOTS):
                stored, pub = step_energy(flex.ev, stored, ev_w[:, t], trip[:, t], DT_H)
                public += pub
            flex.ev_soc = np.divide(
                stored, flex.ev.capacity_wh, out=np.zeros(n), where=flex.ev.capacity_wh > 0
            )
        if flex is not None and flex.any_hp:
            cop1, _ = performance(t_out)
            demand = heat_demand_w(flex.hp, t_out[None, :] + np.zeros((n, 1)))
            heat_w = plan["hh"] / DT_H
            unmet_w = np.zeros((n, SLOTS))
            tank = flex.tank
            for t in range(SLOTS):
                tank, unmet_w[:, t] = tank_step(flex.hp, tank, heat_w[:, t], demand[:, t], DT_H)
            flex.tank = tank
            hp_w = heat_w / cop1[None, :]
        v2g = np.clip(-ev_w, 0, None)
        devices = None
        if flex is not None:
            devices = DeviceDay(
                np.clip(ev_w, 0, None) - v2g, public, hp_w, heat_w, unmet_w, wind, hydro
            )
        load = base_load_w.astype(np.float64) + np.clip(ev_w, 0, None) + hp_w
        gen = gen_w + v2g
        return PlannedDay(gen.astype(np.float32), load.astype(np.float32), bess, soc, devices)
