"""Model-predictive trading for a live house (``[market] strategy = "mpc"``).

The same strategy as the simulator's MPC agents (:mod:`gridpeer.sim.mpc`), for one house
of a running community:

1. **History**: every round, :meth:`MpcHouse.observe` reads the house's *stored*
   readings (its meter's consumption and its PV, 15-minute means from the telemetry
   store) for every slot completed since the last round into a
   :class:`~gridpeer.hems.forecasting.HouseForecaster` (``sarima`` by default). Nothing
   from the future: only slots that ended before now.
2. **Plan** (:meth:`MpcHouse.replan`): from the next slot on, over a rolling horizon of
   up to 96 slots (as far as the forecaster reaches), the cheapest operation of the
   battery with :func:`gridpeer.devices.schedule.solve` (HiGHS, the simulator's LP)
   against the expected prices per Wh: buying ``import − (import − mid)·share``, selling
   ``feed_in + (mid − feed_in)·share`` (``mid`` the tariffs' midpoint, ``share`` the part
   of a trade the P2P market is expected to take, default 0.5). A car (an EV house) is
   scheduled in the same LP from its sessions (its owner's plan: plugged in, trips,
   departures, as the simulator's agents know them), its SoC now, and the requirement
   ``E ≥ min_soc·capacity`` at the end of the slot before each departure and of the
   horizon (capped by what the charger can reach). A house with neither has nothing to
   schedule: its plan is its forecast net (``imp = max(0, load − pv)``,
   ``exp = max(0, pv − load)``). The forecast load is the meter's minus the car's.
3. **Devices**: the plan's battery and car power per slot become the set points of the
   house's :class:`~gridpeer.devices.scheduled.ScheduledHouse` (clipped there to the
   physical limits).
4. **Orders** (:meth:`MpcHouse.intents`): for a delivery window, sell the plan's
   exports and buy its imports over the window's slots (whole Wh), priced like the
   rule-based agent (fixed or ramping plan across the bidding window); the owner's
   switch and overrides apply as for the rule-based agent.

Units: energy Wh, power W, prices wei per kWh (the LP's per Wh, normalised), SoC 0..1,
times UTC unix seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt

from gridpeer.devices.battery import BatterySpec, one_way_efficiency
from gridpeer.devices.ev import EvSessions, EvSpec
from gridpeer.devices.schedule import FlexProblem, solve
from gridpeer.devices.scheduled import ScheduledHouse
from gridpeer.hems.forecasting import SLOT_S, HouseForecaster
from gridpeer.hems.trading_agent import Intent, OwnerSettings, SlotView, priced_intents
from gridpeer.market.clearing import GridPrices
from gridpeer.store.base import Resolution, Store

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
DT_H = SLOT_S / 3600.0
Window = tuple[int, int]


@dataclass(frozen=True)
class LivePlan:
    """A house's schedule from ``start`` (UTC s, a slot start), one entry per slot.

    Attributes:
        start: first slot's start, UTC s.
        pv_wh, load_wh: forecast generation and load, Wh per slot.
        imp_wh, exp_wh: planned energy bought and sold, Wh per slot.
        bess_w: battery power, W (+ discharge, − charge).
        soc: planned SoC at the end of each slot, 0..1 (0 without a battery).
        ev_w: the car's charger power, W (+ charging, − V2G; 0 without a car).
        ev_soc: the car's planned SoC at the end of each slot, 0..1.
    """

    start: int
    pv_wh: F64
    load_wh: F64
    imp_wh: F64
    exp_wh: F64
    bess_w: F64
    soc: F64
    ev_w: F64 | None = None
    ev_soc: F64 | None = None

    @property
    def end(self) -> int:
        """End of the last slot, UTC s."""
        return self.start + SLOT_S * int(self.imp_wh.size)

    def covers(self, window: Window) -> bool:
        """True if the plan holds every slot of ``window``."""
        return self.start <= window[0] and window[1] <= self.end

    def window_wh(self, window: Window) -> tuple[int, int]:
        """``(sell_wh, buy_wh)``: the plan's exports and imports over ``window``, whole Wh."""
        a = (window[0] - self.start) // SLOT_S
        b = -(-(window[1] - self.start) // SLOT_S)
        sell = int(np.floor(self.exp_wh[a:b].sum() + 1e-6))
        buy = int(np.floor(self.imp_wh[a:b].sum() + 1e-6))
        return sell, buy

    def set_points(self) -> dict[int, float]:
        """Battery power per slot start (UTC s → W, + discharge)."""
        return {self.start + SLOT_S * i: float(w) for i, w in enumerate(self.bess_w)}

    def ev_points(self) -> dict[int, float]:
        """The car's charger power per slot start (UTC s → W, + charging); empty without."""
        if self.ev_w is None:
            return {}
        return {self.start + SLOT_S * i: float(w) for i, w in enumerate(self.ev_w)}


@dataclass(frozen=True)
class CarHorizon:
    """A car over a plan's slots: its spec, stored energy now (Wh), plugged in per slot,
    driving energy per slot (Wh, at arrival) and the energy required at the end of each
    slot (Wh, 0 where none)."""

    spec: EvSpec
    start_wh: float
    home: npt.NDArray[np.bool_]
    trip_wh: F64
    need_wh: F64


def car_horizon(
    spec: EvSpec, sessions: Callable[[date], EvSessions], start: int, slots: int, soc: float
) -> CarHorizon:
    """The car's :class:`CarHorizon` for ``slots`` slots from ``start`` (UTC s) from its
    daily sessions (UTC days of 96 slots), at SoC ``soc`` now."""
    first = start // SLOT_S
    days: dict[int, EvSessions] = {}
    home = np.zeros(slots, dtype=np.bool_)
    trip = np.zeros(slots)
    departs = np.zeros(slots, dtype=np.bool_)
    for j in range(slots):
        d, t = divmod(first + j, 96)
        if d not in days:
            days[d] = sessions(datetime.fromtimestamp(d * 86_400, UTC).date())
        sess = days[d]
        home[j] = bool(sess.home[0, t])
        trip[j] = float(sess.trip_wh[0, t])
        departs[j] = int(sess.departure[0]) == t
    e0 = soc * spec.capacity_wh
    per_slot = spec.charger_w * DT_H * spec.efficiency
    reach = np.minimum(e0 + per_slot * np.cumsum(home), spec.capacity_wh)
    want = spec.min_soc_departure * spec.capacity_wh
    need = np.zeros(slots)
    before = np.flatnonzero(departs) - 1  # the slot before each departure
    before = before[before >= 0]
    need[before] = np.minimum(want, reach[before])
    low = max(0.0, e0 - float(trip.sum()))
    need[-1] = max(need[-1], min(want, low + per_slot * float(home.sum()), spec.capacity_wh))
    return CarHorizon(spec, e0, home, trip, need)


def expected_prices(prices: GridPrices, share: float) -> tuple[float, float]:
    """Expected (buy, sell) price, wei per kWh: the grid's, moved toward the tariffs'
    midpoint by the ``share`` (0..1) of a trade the P2P market is expected to take."""
    imp, fi = float(prices.import_wei_per_kwh), float(prices.feed_in_wei_per_kwh)
    mid = (imp + fi) / 2.0
    return imp - (imp - mid) * share, fi + (mid - fi) * share


@dataclass(frozen=True)
class PlanInput:
    """What one house plans from: the first slot (UTC s), its forecasts (Wh per slot),
    its battery and SoC now, its car over the horizon."""

    start: int
    pv_wh: F64
    load_wh: F64
    battery: BatterySpec | None
    soc: float
    car: CarHorizon | None = None

    @property
    def key(self) -> tuple[int, int, bool, bool]:
        """Houses with equal keys can share one solve (same slots, same devices)."""
        return self.start, int(self.pv_wh.size), self.battery is not None, self.car is not None


def plan_house(
    start: int,
    pv_wh: F64,
    load_wh: F64,
    battery: BatterySpec | None,
    soc: float,
    prices: GridPrices,
    share: float = 0.5,
    car: CarHorizon | None = None,
) -> LivePlan:
    """The cheapest schedule of one house from ``start`` given its forecasts (Wh per
    slot), its battery at ``soc`` now, its car (if any) and the expected prices (see the
    module docstring)."""
    return plan_houses([PlanInput(start, pv_wh, load_wh, battery, soc, car)], prices, share)[0]


def plan_houses(
    inputs: Sequence[PlanInput], prices: GridPrices, share: float = 0.5
) -> list[LivePlan]:
    """:func:`plan_house` for several houses of the same :attr:`PlanInput.key` in ONE
    HiGHS solve (a block-diagonal LP, like the simulator's batches)."""
    if not inputs:
        return []
    if len({i.key for i in inputs}) != 1:
        raise ValueError("a batch needs houses with the same slots and devices")
    start, h, has_battery, has_car = inputs[0].key
    n = len(inputs)
    pv = np.clip(np.array([i.pv_wh for i in inputs], dtype=np.float64), 0.0, None)
    load = np.clip(np.array([i.load_wh for i in inputs], dtype=np.float64), 0.0, None)
    if not (has_battery or has_car) or h == 0:
        z = np.zeros(h)
        return [
            LivePlan(start, g, d, np.clip(d - g, 0, None), np.clip(g - d, 0, None), z, z)
            for g, d in zip(pv, load, strict=True)
        ]
    buy, sell = expected_prices(prices, share)
    top = max(buy, 1.0)
    one, z1, zh = np.ones(n), np.zeros(n), np.zeros((n, h))
    off = BatterySpec(1.0, 0.0, 0.0)  # a battery of 0 Wh: switched off below
    bats = [i.battery or off for i in inputs]
    has_b = np.array([i.battery is not None for i in inputs], dtype=np.float64)
    cap = np.array([b.capacity_wh for b in bats]) * has_b

    def arr(f: Callable[[BatterySpec], float]) -> F64:
        return np.array([f(b) for b in bats], dtype=np.float64)

    ev_args: dict[str, object] = dict(
        ev_wh=z1,
        ev_power_w=z1,
        ev_eff=one,
        ev_v2g=np.zeros(n, dtype=np.bool_),
        ev_start_wh=z1,
        ev_home=np.ones((n, h), dtype=np.bool_),
        ev_trip_wh=zh,
        ev_need_wh=zh,
    )
    if has_car:
        cars = [i.car for i in inputs if i.car is not None]
        ev_args = dict(
            ev_wh=np.array([c.spec.capacity_wh for c in cars]),
            ev_power_w=np.array([c.spec.charger_w for c in cars]),
            ev_eff=np.array([c.spec.efficiency for c in cars]),
            ev_v2g=np.array([c.spec.v2g for c in cars]),
            ev_start_wh=np.array([c.start_wh for c in cars]),
            ev_home=np.array([c.home for c in cars]),
            ev_trip_wh=np.array([c.trip_wh for c in cars]),
            ev_need_wh=np.array([c.need_wh for c in cars]),
        )
    p = FlexProblem(
        dt_h=DT_H,
        pv_wh=pv,
        load_wh=load,
        buy_price=np.full((n, h), buy / top / 1000.0),
        sell_price=np.full((n, h), sell / top / 1000.0),
        batt_wh=cap,
        batt_power_w=arr(lambda b: min(b.max_charge_w, b.max_discharge_w)),
        batt_eff=np.asarray(one_way_efficiency(arr(lambda b: b.round_trip_efficiency))),
        batt_soc_min=arr(lambda b: b.soc_min),
        batt_soc_max=arr(lambda b: b.soc_max),
        batt_start_wh=np.array([i.soc for i in inputs]) * cap,
        hp_heat_max_w=zh,
        hp_cop=np.ones((n, h)),
        heat_demand_w=zh,
        tank_wh=z1,
        tank_loss_per_h=z1,
        tank_start_wh=z1,
        **ev_args,  # type: ignore[arg-type]
    )
    s = solve(p)
    out = []
    for r, i in enumerate(inputs):
        ev_w = ev_soc = None
        if i.car is not None:
            ev_w = (s["ec"][r] - s["ed"][r]) / DT_H
            ev_soc = s["se"][r] / i.car.spec.capacity_wh
        soc = s["sb"][r] / cap[r] if cap[r] > 0 else np.zeros(h)
        bess = (s["bd"][r] - s["bc"][r]) / DT_H
        out.append(
            LivePlan(start, pv[r], load[r], s["imp"][r], s["exp"][r], bess, soc, ev_w, ev_soc)
        )
    return out


@dataclass
class MpcHouse:
    """One live house's MPC agent (see the module docstring).

    Attributes:
        house: house id.
        battery: its battery (None: nothing to schedule).
        prices: grid tariffs, wei/kWh.
        store: the telemetry store its readings are read back from.
        car: the house's flows with its car (sessions and spec), or None.
        model: forecast model (``persistence``, ``sarima``, ``gbm``).
        share: expected share of a trade the P2P market takes, 0..1.
        history_days: days of readings read back at the first round.
    """

    house: str
    battery: BatterySpec | None
    prices: GridPrices
    store: Store
    car: ScheduledHouse | None = None
    model: str = "sarima"
    share: float = 0.5
    history_days: int = 14
    forecaster: HouseForecaster = field(init=False)
    plan: LivePlan | None = None
    observed_until: int = 0
    """Slots before this UTC s have been read from the store."""
    posted: list[tuple[Window, LivePlan, list[Intent]]] = field(default_factory=list)
    """The last orders decided per round: window, the plan they came from, the intents."""
    solves: int = 0

    def __post_init__(self) -> None:
        self.forecaster = HouseForecaster(self.model, days=self.history_days)

    def observe(self, now: float) -> int:
        """Read the slots completed since the last call (before ``now``) from the store
        into the forecaster; returns how many slots were observed."""
        end = int(now) // SLOT_S * SLOT_S
        start = self.observed_until or end - self.history_days * 86_400
        if end <= start:
            return 0
        t0, t1 = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        meter = self.store.history(self.house, "meter", t0, t1, Resolution.MIN15)
        pv, car = (
            {
                int(x.start.timestamp()): x.energy_wh
                for x in self.store.history(self.house, device, t0, t1, Resolution.MIN15)
            }
            for device in ("pv", "ev")
        )
        seen = 0
        for m in meter:
            ts = int(m.start.timestamp())
            if start <= ts < end:  # the inflexible load: the meter's minus the car's
                load = max(0.0, float(m.energy_wh) - float(car.get(ts, 0.0)))
                self.forecaster.observe(ts, float(pv.get(ts, 0.0)), load)
                seen += 1
        self.observed_until = end
        return seen

    def prepare(self, now: float, soc: float, ev_soc: float = 0.0) -> PlanInput | None:
        """What to plan from at ``now`` (battery at ``soc``, car at ``ev_soc``): from the
        next slot on, as far as the forecaster reaches; None before any reading."""
        start = -(-int(now) // SLOT_S) * SLOT_S
        h = min(96, self.forecaster.horizon(start))
        if h <= 0:
            return None
        pv, load = self.forecaster.forecast_slots(start, h)
        car = None
        if self.car is not None and self.car.ev is not None:
            car = car_horizon(self.car.ev, self.car.sessions, start, h, ev_soc)
        return PlanInput(start, pv, load, self.battery, soc, car)

    def adopt(self, plan: LivePlan, solved: bool = True) -> None:
        """Take ``plan`` as the current one (``solved``: it came from the LP)."""
        self.plan = plan
        self.solves += int(solved)

    def replan(self, now: float, soc: float, ev_soc: float = 0.0) -> LivePlan | None:
        """Plan this house alone (see :meth:`prepare`); :func:`replan_all` plans many
        houses in a few solves."""
        inp = self.prepare(now, soc, ev_soc)
        if inp is None:
            return None
        plan = plan_houses([inp], self.prices, self.share)[0]
        self.adopt(plan, inp.battery is not None or inp.car is not None)
        return plan

    def intents(self, window: Window, settings: OwnerSettings, view: SlotView) -> list[Intent]:
        """Orders for ``window`` from the current plan (none without a plan covering it)."""
        plan = self.plan
        if not settings.enabled or plan is None or not plan.covers(window):
            return []
        sell, buy = plan.window_wh(window)
        out = priced_intents(settings, view, sell, buy)
        self.posted.append((window, plan, out))
        del self.posted[:-200]
        return out


MPC_BATCH = 25
"""Houses per HiGHS solve when planning a community (as the simulator's agents)."""


def replan_all(
    inputs: Mapping[str, PlanInput], houses: Mapping[str, MpcHouse]
) -> dict[str, LivePlan]:
    """Plan every house of ``inputs`` (house → its :meth:`MpcHouse.prepare`), houses with
    the same slots and devices together, :data:`MPC_BATCH` per solve; each house adopts
    its plan. A batch whose solve fails is logged and keeps its previous plans."""
    groups: dict[tuple[int, int, bool, bool, float], list[str]] = {}
    for house, inp in inputs.items():
        groups.setdefault((*inp.key, houses[house].share), []).append(house)
    out: dict[str, LivePlan] = {}
    for key, names in groups.items():
        flexible = key[2] or key[3]
        step = MPC_BATCH if flexible else len(names)
        for lo in range(0, len(names), step):
            batch = names[lo : lo + step]
            try:
                plans = plan_houses([inputs[h] for h in batch], houses[batch[0]].prices, key[4])
            except RuntimeError as exc:
                log.warning("MPC plan of %s: %s", ", ".join(batch), exc)
                continue
            for house, plan in zip(batch, plans, strict=True):
                houses[house].adopt(plan, flexible)
                out[house] = plan
    return out
