"""The community simulation loop: days streamed, slots in order, houses as arrays.

For every 15-minute slot: batteries follow the devices layer's self-consumption
dispatch, agents post orders for their residual surplus/deficit (from a forecast,
priced by their strategy), the market mechanism clears them in one or more rounds across the
bidding window, deliveries are capped by what was really there, the rest goes to
and from the grid, and the :class:`~gridpeer.sim.ledger.Ledger` accumulates. The only
Python loops are over days and slots (and bidding rounds); never over houses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from gridpeer.hems.strategy import PriceStrategy, house_order_price, noisy_forecast
from gridpeer.market.calendar import thesis_default
from gridpeer.market.clearing import GridPrices
from gridpeer.market.money import payments_wei_array
from gridpeer.profiles.forecast import ForecastScore, make_forecaster
from gridpeer.sim.dayprofiles import SLOTS_PER_DAY, DayEnergy, DayGenerator
from gridpeer.sim.flexdevices import DeviceDay
from gridpeer.sim.ledger import Ledger
from gridpeer.sim.market_adapter import (
    MARKETS,
    PRICE_BLIND,
    SlotStructure,
    Trades,
    clear_slot,
    mechanism,
)
from gridpeer.sim.mpc import MpcPlanner
from gridpeer.sim.population import Population, build_population
from gridpeer.sim.scenario import Scenario

if TYPE_CHECKING:
    from gridpeer.sim.feeder import FeederFlow
    from gridpeer.sim.grid_market import GridMarket

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
SAMPLE_BATTERIES = 3
HISTORY_DAYS = 14
"""Days of past PV and load each house keeps for the fitted forecasts (a rolling buffer)."""
FITTED = ("sarima", "gbm")

SettleHook = Callable[[int, Trades, I64], None]
"""Called after each slot clears with (global slot index, contracted trades, delivered Wh
per contracted trade)."""


@dataclass(frozen=True)
class RunConfig:
    """What to simulate: a scenario with command-line overrides applied."""

    scenario: Scenario
    mechanism: str
    houses: int
    days: int
    seed: int


@dataclass
class SimResult:
    """Everything a report needs from one run."""

    config: RunConfig
    population: Population
    ledger: Ledger
    interrupted: bool
    elapsed_s: float
    wei_per_unit: int
    feeder: FeederFlow | None = None
    grid_market: GridMarket | None = None
    warnings: tuple[str, ...] = ()
    forecast: dict[str, float] | None = None
    """Forecast errors of the net PV − load per house and slot (see ForecastScore)."""
    mpc_solves: int = 0
    """HiGHS solves of the MPC agents (0 with rule-based dispatch)."""

    @property
    def slots_done(self) -> int:
        """Slots fully simulated."""
        return self.ledger.slots_done


def tradable_slots(scenario: Scenario, day: date) -> npt.NDArray[np.bool_]:
    """Which of the day's 96 slots may carry P2P deliveries (the scenario's calendar)."""
    if scenario.calendar.mode == "continuous":
        return np.ones(SLOTS_PER_DAY, dtype=np.bool_)
    offset = int(scenario.site.utc_offset_h)
    cal = thesis_default(f"Etc/GMT{-offset:+d}" if offset else "UTC")
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    mids = (midnight + timedelta(minutes=15 * t + 7.5) for t in range(SLOTS_PER_DAY))
    return np.array([cal.delivering_at(m) is not None for m in mids], dtype=np.bool_)


def slot_tariffs(scenario: Scenario, local_hour: F64) -> tuple[I64, int]:
    """Import price per slot of a day and the feed-in price, integer wei/kWh."""
    t = scenario.tariff
    imp = np.full(local_hour.shape, t.import_price, dtype=np.float64)
    for p in t.tou:
        imp[(local_hour >= p.start_h) & (local_hour < p.end_h)] = p.import_price
    return (
        np.rint(imp * t.wei_per_unit).astype(np.int64),
        round(t.feed_in_price * t.wei_per_unit),
    )


class _Prices:
    """Per-house limit prices across the bidding rounds, from :mod:`gridpeer.hems.strategy`.

    Ramping agents start ``spread`` of the way toward the other side's tariff and end at
    their own (sellers at feed-in, buyers at import); fixed agents quote the midpoint.
    """

    def __init__(self, pop: Population, spread: float) -> None:
        self.ramping = pop.ramping
        self.spread = spread
        self._cache: dict[tuple[int, int, float], tuple[I64, I64]] = {}

    def quotes(self, import_price: int, feed_in: int, progress: float) -> tuple[I64, I64]:
        """``(ask, bid)`` per house at ``progress`` 0..1 of the window, wei/kWh."""
        key = (import_price, feed_in, progress)
        if key not in self._cache:
            fi, imp, sp = feed_in, import_price, self.spread
            ask_r = house_order_price("sell", fi, imp, progress, PriceStrategy.RAMPING, sp)
            bid_r = house_order_price("buy", fi, imp, progress, PriceStrategy.RAMPING, sp)
            ask_f = house_order_price("sell", fi, imp, progress, PriceStrategy.FIXED, 0.5)
            bid_f = house_order_price("buy", fi, imp, progress, PriceStrategy.FIXED, 0.5)
            self._cache[key] = (
                np.where(self.ramping, ask_r, ask_f).astype(np.int64),
                np.where(self.ramping, bid_r, bid_f).astype(np.int64),
            )
        return self._cache[key]


class Simulation:
    """One community run; call :meth:`run`."""

    def __init__(
        self,
        config: RunConfig,
        settle: SettleHook | None = None,
        feeder: FeederFlow | None = None,
    ) -> None:
        """``feeder``: a power flow to run per slot; by default the scenario's
        ``[feeder]`` if it has one (pandapower is imported only then)."""
        self.cfg = config
        sc = config.scenario
        self.pop = build_population(sc, config.houses, config.seed)
        self.gen = DayGenerator(
            self.pop,
            sc,
            config.seed,
            clear_sky=sc.strategy.forecast in ("persistence", "clear-sky", *FITTED),
        )
        self.warnings: tuple[str, ...] = tuple(self.gen.warnings(config.days))
        self.mech = mechanism(config.mechanism)
        self.rounds = 1 if config.mechanism in PRICE_BLIND else sc.strategy.rounds
        self.prices = _Prices(self.pop, sc.strategy.spread)
        self.settle = settle
        self.ledger = Ledger(self.pop.n, config.days * SLOTS_PER_DAY)
        self.has_batt = self.pop.battery_wh > 0
        self.samples = np.flatnonzero(self.has_batt)[:SAMPLE_BATTERIES]
        self.ledger.sample_soc = np.zeros((self.ledger.slots, self.samples.size))
        self._prev: DayEnergy | None = None
        self._noisy: tuple[I64, I64] | None = None  # today's forecast PV and load, Wh
        self.tradable = np.ones(SLOTS_PER_DAY, dtype=np.bool_)
        if feeder is None and sc.feeder is not None:
            from gridpeer.sim.feeder import build_feeder

            feeder = build_feeder(
                sc.feeder, config.houses, config.seed, config.days * SLOTS_PER_DAY, sc.base_dir
            )
        self.feeder = feeder
        self.structure = slot_structure(sc, self.pop, feeder)
        self.grid_market: GridMarket | None = None
        if feeder is not None:
            from gridpeer.sim.grid_market import GridMarket

            spec = sc.feeder
            self.grid_market = GridMarket(
                feeder,
                spec is not None and spec.grid_aware,
                0.0 if spec is None else spec.network_fee * sc.tariff.wei_per_unit,
            )
            feeder.start(config.days * SLOTS_PER_DAY)
        self.score = ForecastScore()
        mode = sc.strategy.forecast
        self._models = (make_forecaster(mode), make_forecaster(mode)) if mode in FITTED else None
        width = HISTORY_DAYS * SLOTS_PER_DAY if self._models else 0
        self._hist = np.zeros((2, self.pop.n, width))  # PV, load, Wh per slot
        self._hist_slots = 0  # slots of history held (<= width)
        self._days_seen = 0
        self._fitted: tuple[F64, F64] | None = None  # today's fitted forecast PV, load, Wh
        self._f_day = np.zeros((self.pop.n, SLOTS_PER_DAY), dtype=np.int64)
        self.planner: MpcPlanner | None = None
        if sc.strategy.dispatch == "mpc":
            self.planner = MpcPlanner(self.gen.fleet.batteries, self.gen.flex, self.pop.n)
            imp_day, fi_day = slot_tariffs(sc, self.gen.local_hour)
            self.planner.tariff = (imp_day.astype(np.float64), float(fi_day))
            self.planner.forecast = self._plan_forecast
            self.gen.planner = self.planner
            self._plan_models = (
                (make_forecaster(mode), make_forecaster(mode)) if mode in FITTED else None
            )
            self._plan_hist = np.zeros((2, self.pop.n, HISTORY_DAYS * SLOTS_PER_DAY))
            self._plan_slots = 0
            self._plan_day = 0
        self.record_forecasts = False
        self.day_forecasts: list[tuple[F64, F64]] = []

    # ------------------------------------------------------------ forecasts

    def _noisy_day(self, today: DayEnergy, day_index: int) -> tuple[I64, I64]:
        """The day's noisy forecast of PV and load per house and slot, integer Wh.

        Seeded by ``(seed, day)`` only, so every market design sees the same forecast.
        """
        sigma = self.cfg.scenario.strategy.forecast_error
        rng = np.random.default_rng([self.cfg.seed, 7, day_index])
        pv = noisy_forecast(today.pv_wh.astype(np.float64), sigma, rng)
        load = noisy_forecast(today.load_wh.astype(np.float64), sigma, rng)
        return np.rint(pv).astype(np.int64), np.rint(load).astype(np.int64)

    def _fitted_day(self, today: DayEnergy) -> tuple[F64, F64]:
        """Day-ahead PV and load forecast of every house from its past days only, Wh."""
        assert self._models is not None
        pv_model, load_model = self._models
        now = self._hist_slots
        origin = self._days_seen * SLOTS_PER_DAY - now
        if now >= max(pv_model.min_history, load_model.min_history):
            pv = pv_model.predict(self._hist[0], now, SLOTS_PER_DAY, origin=origin)
            load = load_model.predict(self._hist[1], now, SLOTS_PER_DAY, origin=origin)
        elif now >= SLOTS_PER_DAY:  # persistence until the models have enough history
            pv = self._hist[0][:, now - SLOTS_PER_DAY : now].copy()
            load = self._hist[1][:, now - SLOTS_PER_DAY : now].copy()
        else:  # day 1: derated clear sky, the house's mean load (its annual kWh)
            assert today.clear_sky_pv_wh is not None
            pv = today.clear_sky_pv_wh.astype(np.float64) * 0.8
            mean = self.pop.annual_kwh * 1000.0 / 365.0 / SLOTS_PER_DAY
            load = np.repeat(mean[:, None], SLOTS_PER_DAY, axis=1)
        return pv, load

    def _plan_forecast(self, gen: F64, load: F64) -> tuple[F64, F64]:
        """The MPC agents' forecast of today's generation and inflexible load, Wh, from
        the run's forecast mode; then today's real values join the planning history."""
        mode = self.cfg.scenario.strategy.forecast
        hist, k, d = self._plan_hist, self._plan_slots, self._plan_day
        if mode == "perfect":
            out = (gen, load)
        elif mode == "noisy":
            sigma = self.cfg.scenario.strategy.forecast_error
            rng = np.random.default_rng([self.cfg.seed, 9, d])
            out = (
                np.asarray(noisy_forecast(gen, sigma, rng), dtype=np.float64),
                np.asarray(noisy_forecast(load, sigma, rng), dtype=np.float64),
            )
        elif self._plan_models is not None and k >= self._plan_models[0].min_history:
            origin = d * SLOTS_PER_DAY - k
            out = (
                self._plan_models[0].predict(hist[0], k, SLOTS_PER_DAY, origin=origin),
                self._plan_models[1].predict(hist[1], k, SLOTS_PER_DAY, origin=origin),
            )
        elif k >= SLOTS_PER_DAY:
            out = (
                hist[0, :, k - SLOTS_PER_DAY : k].copy(),
                hist[1, :, k - SLOTS_PER_DAY : k].copy(),
            )
        else:  # day 1 without history: no generation, the house's mean load
            mean = self.pop.annual_kwh * 1000.0 / 365.0 / SLOTS_PER_DAY
            out = (np.zeros_like(gen), np.repeat(mean[:, None], SLOTS_PER_DAY, axis=1))
        width = hist.shape[2]
        if k == width:
            hist[:, :, :-SLOTS_PER_DAY] = hist[:, :, SLOTS_PER_DAY:]
            k -= SLOTS_PER_DAY
        hist[0, :, k : k + SLOTS_PER_DAY] = gen
        hist[1, :, k : k + SLOTS_PER_DAY] = load
        self._plan_slots = k + SLOTS_PER_DAY
        self._plan_day = d + 1
        return out

    def _remember(self, today: DayEnergy) -> None:
        """Append the finished day's real PV and load to the rolling history."""
        self._days_seen += 1
        if self._models is None:
            return
        width = self._hist.shape[2]
        if self._hist_slots == width:
            self._hist[:, :, :-SLOTS_PER_DAY] = self._hist[:, :, SLOTS_PER_DAY:]
            self._hist_slots -= SLOTS_PER_DAY
        k = self._hist_slots
        self._hist[0, :, k : k + SLOTS_PER_DAY] = today.pv_wh
        self._hist[1, :, k : k + SLOTS_PER_DAY] = today.load_wh
        self._hist_slots += SLOTS_PER_DAY

    def _score_day(self, today: DayEnergy, slots: int) -> None:
        """Score the day's net forecasts (its first ``slots`` slots) against persistence."""
        prev = self._prev
        if prev is None or slots == 0:
            return
        actual = today.pv_wh[:, :slots].astype(np.int64) - today.load_wh[:, :slots]
        ref = prev.pv_wh[:, :slots].astype(np.int64) - prev.load_wh[:, :slots]
        perfect = self.cfg.scenario.strategy.forecast == "perfect"
        self.score.add(actual if perfect else self._f_day[:, :slots], actual, ref)

    def _forecast_net(self, today: DayEnergy, t: int) -> I64:
        """Forecast PV minus load of slot ``t`` per house, Wh."""
        mode = self.cfg.scenario.strategy.forecast
        actual = today.pv_wh[:, t].astype(np.int64) - today.load_wh[:, t]
        if mode == "perfect":
            return actual
        if mode in FITTED:
            assert self._fitted is not None
            return np.rint(self._fitted[0][:, t] - self._fitted[1][:, t]).astype(np.int64)
        if mode == "noisy":
            assert self._noisy is not None
            return np.asarray(self._noisy[0][:, t] - self._noisy[1][:, t], dtype=np.int64)
        prev = self._prev
        if mode == "persistence" and prev is not None:
            return prev.pv_wh[:, t].astype(np.int64) - prev.load_wh[:, t]
        load = (prev if prev is not None else today).load_wh[:, t].astype(np.int64)
        assert today.clear_sky_pv_wh is not None
        cs = np.rint(today.clear_sky_pv_wh[:, t] * 0.8).astype(np.int64)
        return np.asarray(cs - load, dtype=np.int64)

    # ------------------------------------------------------------ one slot

    def _clear_rounds(self, sell: I64, buy: I64, grid: GridPrices, arrival: I64) -> Trades:
        """Clear the slot in ``rounds`` steps across the bidding window (prices ramp)."""
        parts: list[Trades] = []
        sell = sell.copy()
        buy = buy.copy()
        imp, fi = grid.import_wei_per_kwh, grid.feed_in_wei_per_kwh
        for r in range(self.rounds):
            if not (sell.any() and buy.any()):
                break
            progress = 1.0 if self.rounds == 1 else r / (self.rounds - 1)
            ask, bid = self.prices.quotes(imp, fi, progress)
            trades = clear_slot(self.mech, sell, ask, buy, bid, arrival, grid, self.structure)
            if len(trades) == 0:
                continue
            np.subtract.at(buy, trades.buyer, trades.wh)
            np.subtract.at(sell, trades.seller, trades.wh)
            parts.append(trades)
        return Trades.concat(parts)

    def _slot(
        self, today: DayEnergy, t: int, g: int, imp: int, fi: int, rng: np.random.Generator
    ) -> None:
        led = self.ledger
        pv = today.pv_wh[:, t].astype(np.int64)
        load = today.load_wh[:, t].astype(np.int64)
        charge = today.charge_wh[:, t].astype(np.int64)
        discharge = today.discharge_wh[:, t].astype(np.int64)
        residual = pv - load - charge + discharge
        # orders: from a forecast of the slot's PV and load, with the battery's plan
        if self.cfg.scenario.strategy.forecast == "perfect":
            f_res = None
        else:
            f_net = self._forecast_net(today, t)
            self._f_day[:, t] = f_net
            f_res = f_net - charge + discharge
        surplus = np.clip(residual, 0, None)
        deficit = np.clip(-residual, 0, None)
        if f_res is None:
            sell_q, buy_q = surplus, deficit
        else:
            sell_q, buy_q = np.clip(f_res, 0, None), np.clip(-f_res, 0, None)
        arrival = rng.permutation(self.pop.n).astype(np.int64)
        gm = self.grid_market
        if gm is not None:
            gm.before_clearing(residual)
        if self.tradable[t]:
            contracted = self._clear_rounds(sell_q, buy_q, GridPrices(imp, fi), arrival)
        else:
            contracted = Trades.empty()
        if gm is not None:
            contracted = gm.curtail(contracted)
        if f_res is None:
            delivered_wh = contracted.wh
            delivered = contracted
        else:
            delivered_wh = self._cap(contracted, surplus, deficit)
            delivered = contracted.select(delivered_wh > 0, delivered_wh)
        if gm is not None and gm.check(residual, delivered):
            delivered = Trades.empty()  # grid-aware fallback: the slot's P2P is cancelled
            delivered_wh = np.zeros_like(contracted.wh)
        # per-house accounting
        n = self.pop.n
        bought = np.bincount(delivered.buyer, delivered.wh, n).astype(np.int64)
        sold = np.bincount(delivered.seller, delivered.wh, n).astype(np.int64)
        value = delivered.payments_wei()
        paid = np.bincount(delivered.buyer, value, n).astype(np.int64)
        received = np.bincount(delivered.seller, value, n).astype(np.int64)
        imp_wh = deficit - bought
        exp_wh = surplus - sold
        h = led.house
        h["load_wh"] += load
        h["pv_wh"] += pv
        h["charge_wh"] += charge
        h["discharge_wh"] += discharge
        h["import_wh"] += imp_wh
        h["export_wh"] += exp_wh
        h["p2p_bought_wh"] += bought
        h["p2p_sold_wh"] += sold
        h["contracted_bought_wh"] += np.bincount(contracted.buyer, contracted.wh, n).astype(
            np.int64
        )
        h["contracted_sold_wh"] += np.bincount(contracted.seller, contracted.wh, n).astype(np.int64)
        h["p2p_paid_wei"] += paid
        h["p2p_received_wei"] += received
        if delivered.fee_rate is not None or gm is not None:  # to the grid operator
            fee = np.zeros(n, dtype=np.int64)
            if delivered.fee_rate is not None:
                np.add.at(
                    fee, delivered.buyer, payments_wei_array(delivered.wh, delivered.fee_rate)
                )
            if gm is not None:
                fee += gm.fees(delivered, n)
            h["network_fee_wei"] += fee
            led.series["network_fee_wei"][g] = fee.sum()
        h["import_cost_wei"] += imp_wh * imp // 1000
        h["export_revenue_wei"] += exp_wh * fi // 1000
        h["base_import_wh"] += deficit
        h["base_export_wh"] += surplus
        if today.devices is not None:
            self._device_slot(today.devices, t, load, bought, imp_wh)
        if self.planner is not None:  # battery energy traded beyond the house's own needs
            acc = led.devices
            acc["battery_bought_wh"] += np.clip(charge - np.clip(pv - load, 0, None), 0, None)
            acc["battery_sold_wh"] += np.clip(discharge - np.clip(load - pv, 0, None), 0, None)
        h["base_import_cost_wei"] += deficit * imp // 1000
        h["base_export_revenue_wei"] += surplus * fi // 1000
        s = led.series
        s["pv_wh"][g] = pv.sum()
        s["load_wh"][g] = load.sum()
        s["import_wh"][g] = imp_wh.sum()
        s["export_wh"][g] = exp_wh.sum()
        s["p2p_wh"][g] = delivered.wh.sum()
        s["charge_wh"][g] = charge.sum()
        s["discharge_wh"][g] = discharge.sum()
        s["p2p_value_wei"][g] = value.sum()
        s["import_price"][g] = imp
        s["feed_in"][g] = fi
        s["base_import_wh"][g] = deficit.sum()
        if self.has_batt.any():
            soc = today.soc[:, t]
            s["mean_soc"][g] = float(soc[self.has_batt].mean())
            led.sample_soc[g] = soc[self.samples]
        if gm is not None:  # the ledger's net injection per house, Wh
            gm.record(g, exp_wh + sold - imp_wh - bought)
        if self.settle is not None:
            self.settle(g, contracted, delivered_wh)

    def _device_slot(self, dev: DeviceDay, t: int, load: I64, bought: I64, imp_wh: I64) -> None:
        """Per-device energy of slot ``t``; EV charging split pro rata over the sources."""
        acc = self.ledger.devices
        ev_net = dev.ev_w[:, t] * 0.25
        ev = np.clip(ev_net, 0.0, None)
        acc["ev_v2g_wh"] += ev - ev_net
        if ev.any():
            share = np.divide(ev, load, out=np.zeros(ev.size), where=load > 0)
            share = np.clip(share, 0.0, 1.0)
            acc["ev_wh"] += ev
            acc["ev_p2p_wh"] += share * bought
            acc["ev_grid_wh"] += share * imp_wh
            acc["ev_own_wh"] += ev - share * (bought + imp_wh)
        acc["heat_pump_wh"] += dev.hp_w[:, t] * 0.25
        acc["heat_wh"] += dev.heat_w[:, t] * 0.25
        acc["heat_unmet_wh"] += dev.unmet_w[:, t] * 0.25
        acc["wind_wh"] += dev.wind_w[:, t] * 0.25
        acc["hydro_wh"] += dev.hydro_w[:, t] * 0.25
        if t == 0:
            acc["ev_public_wh"] += dev.ev_public_wh

    @staticmethod
    def _cap(trades: Trades, surplus: I64, deficit: I64) -> I64:
        """Wh each contract really delivers: as far as seller and buyer really can."""
        if len(trades) == 0:
            return trades.wh
        n = surplus.size
        sold = np.bincount(trades.seller, trades.wh, n)
        bought = np.bincount(trades.buyer, trades.wh, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            rs = np.where(sold > 0, np.minimum(1.0, surplus / sold), 1.0)
            rb = np.where(bought > 0, np.minimum(1.0, deficit / bought), 1.0)
        ratio = np.minimum(rs[trades.seller], rb[trades.buyer])
        return np.floor(trades.wh * ratio).astype(np.int64)

    # ------------------------------------------------------------ the run

    def run(
        self,
        on_slot: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SimResult:
        """Simulate all days; ``on_slot(done)`` after each slot; stop early if asked.

        Args:
            on_slot: progress callback with the number of slots done.
            should_stop: polled before each slot; True ends the run, keeping what is done.
        """
        t0 = time.perf_counter()
        sc = self.cfg.scenario
        interrupted = False
        g = 0
        for d in range(self.cfg.days):
            day = sc.calendar.start + timedelta(days=d)
            today = self.gen.day(day, d)
            if sc.strategy.forecast == "noisy":
                self._noisy = self._noisy_day(today, d)
            if self._models is not None:
                self._fitted = self._fitted_day(today)
                if self.record_forecasts:
                    self.day_forecasts.append(self._fitted)
            imp, fi = slot_tariffs(sc, today.local_hour)
            self.tradable = tradable_slots(sc, day)
            rng = np.random.default_rng([self.cfg.seed, 3, d])
            done = 0
            for t in range(SLOTS_PER_DAY):
                if should_stop is not None and should_stop():
                    interrupted = True
                    break
                self._slot(today, t, g, int(imp[t]), fi, rng)
                g += 1
                done += 1
                self.ledger.slots_done = g
                if on_slot is not None:
                    on_slot(g)
            self._score_day(today, done)
            if interrupted:
                break
            self._prev = today
            self._remember(today)
        return SimResult(
            config=self.cfg,
            population=self.pop,
            ledger=self.ledger,
            interrupted=interrupted,
            elapsed_s=time.perf_counter() - t0,
            wei_per_unit=sc.tariff.wei_per_unit,
            feeder=self.feeder,
            grid_market=self.grid_market,
            warnings=self.warnings,
            forecast=self.score.as_dict(),
            mpc_solves=0 if self.planner is None else self.planner.solves,
        )


def slot_structure(
    scenario: Scenario, pop: Population, feeder: FeederFlow | None = None
) -> SlotStructure | None:
    """The scenario's market structure and trading preferences per house, or None for
    the flat market without preferences.

    Raises:
        ValueError: a partner names an unknown house; zones from a missing feeder.
    """
    from gridpeer.market.preferences import Preference
    from gridpeer.market.structured import Structure

    ms = scenario.market_structure
    groups = scenario.households
    if ms is None and all(g.preference == "none" for g in groups):
        return None
    wpu = scenario.tariff.wei_per_unit
    kinds = {"none": Preference.NONE, "local": Preference.LOCAL, "green": Preference.GREEN}
    kind = np.array([kinds[g.preference] for g in groups], dtype=np.int64)[pop.group]
    premium = np.array([round(g.premium * wpu) for g in groups], dtype=np.int64)[pop.group]
    green = np.array([g.green for g in groups], dtype=np.bool_)[pop.group]
    partner = np.full(pop.n, -1, dtype=np.int64)
    if ms is not None and ms.zones == "feeder":
        if feeder is None:
            raise ValueError('market_structure.zones = "feeder" needs a [feeder] table')
        zone = feeder.branch_zones()
    else:
        zone = np.arange(pop.n, dtype=np.int64) % (1 if ms is None else int(ms.zones))
    index = {hid: i for i, hid in enumerate(pop.ids)}
    for buyer, seller in ({} if ms is None else ms.partners).items():
        if buyer not in index or seller not in index:
            raise ValueError(f"market_structure.partners: unknown house in {buyer} = {seller}")
        partner[index[buyer]] = index[seller]
        kind[index[buyer]] = Preference.PARTNER
    fee_matrix = None
    if ms is not None and ms.fee_matrix is not None:
        zones = ms.zones if isinstance(ms.zones, int) else int(zone.max()) + 1
        if len(ms.fee_matrix) != zones:
            n = len(ms.fee_matrix)
            raise ValueError(
                f"market_structure.fee_matrix is {n} x {n} but the feeder network has "
                f"{zones} zones (branches leaving its transformers)"
            )
        fee_matrix = np.rint(np.asarray(ms.fee_matrix, dtype=np.float64) * wpu).astype(np.int64)
    structure = Structure(
        zone=zone,
        hierarchical=ms is not None and ms.hierarchical,
        feeder_fee=0 if ms is None else round(ms.feeder_fee * wpu),
        community_fee=0 if ms is None else round(ms.community_fee * wpu),
        fee_matrix=fee_matrix,
    )
    return SlotStructure(structure, kind, partner, premium, green)


def make_config(
    scenario: Scenario,
    mechanism: str | None = None,
    houses: int | None = None,
    days: int | None = None,
    seed: int | None = None,
) -> RunConfig:
    """Apply command-line overrides to a scenario (``None`` keeps the scenario's value)."""
    mech = scenario.market if mechanism is None else mechanism
    if mech not in MARKETS:
        raise ValueError(f"unknown market {mech!r}; choose one of {', '.join(MARKETS)}")
    n = scenario.houses if houses is None else houses
    nd = scenario.calendar.days if days is None else days
    if n < 1:
        raise ValueError(f"--houses must be >= 1, got {n}")
    if nd < 1:
        raise ValueError(f"--days must be >= 1, got {nd}")
    return RunConfig(scenario, mech, n, nd, scenario.seed if seed is None else seed)


def simulate(config: RunConfig, settle: SettleHook | None = None) -> SimResult:
    """Run a whole simulation without progress output."""
    return Simulation(config, settle).run()
