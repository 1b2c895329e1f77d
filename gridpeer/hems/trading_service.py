"""The trading agents of ``gridpeer demo``: every house trades for its owner.

Every ``every_s`` model seconds, for each delivery window whose bidding is open on chain
(the contract's schedule), each house's :class:`~gridpeer.hems.trading_live.TradingAgent`
forecasts its surplus / deficit for the window from its simulated day (the window's own
day: a perfect forecast), and trades on the community's market: decentralized, it takes
acceptable orders from the book and posts the rest, prices ramping across the bidding
window, against the configured grid prices; centralized or hybrid, it signs one order
per window and side (EIP-712) and sends it to the coordinator. Owners switch a house's
agent off or override it through ``agents[house].settings`` (an
:class:`~gridpeer.hems.trading_agent.OwnerSettings`).
Units: energy Wh, prices wei per kWh, times UTC unix seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from gridpeer.chain.hub import ChainHub
from gridpeer.chain.types import Order, Schedule, SignedOrder
from gridpeer.core.clock import Clock
from gridpeer.devices.scheduled import ScheduledHouse
from gridpeer.devices.trace import HouseTrace, TraceSource, as_source
from gridpeer.hems.trading_agent import SlotView
from gridpeer.hems.trading_live import TradingAgent
from gridpeer.hems.trading_mpc import MpcHouse, PlanInput, replan_all
from gridpeer.market.clearing import GridPrices

log = logging.getLogger(__name__)

DAY = 86_400


@dataclass(frozen=True)
class BidWindow:
    """A delivery window whose bidding is open: UTC unix seconds."""

    bid_open: int
    start: int
    end: int

    def progress(self, now: int) -> float:
        """Elapsed fraction of the bidding window, 0..1."""
        span = max(1, self.start - self.bid_open)
        return min(1.0, max(0.0, (now - self.bid_open) / span))


def open_windows(schedule: Schedule, now: int, gate_s: int = 60) -> list[BidWindow]:
    """Delivery windows the agents bid for at ``now``: those the contract's calendar has
    open, until ``gate_s`` before their gate closes (so the agents' transactions land in
    time). In continuous mode only the next slot, its prices ramping over the slot before
    it; in ``open`` mode none (there is no schedule to trade against)."""
    if schedule.mode == "open":
        return []
    sessions = schedule.calendar().open_at(datetime.fromtimestamp(now, UTC))
    if schedule.mode == "continuous":
        sessions = sessions[:1]
    out: list[BidWindow] = []
    for s in sessions:
        start, end = int(s.delivery_start.timestamp()), int(s.delivery_end.timestamp())
        bid_open = int(s.bid_open.timestamp())
        if bid_open <= 0:  # bids any time before the window: ramp over one window length
            bid_open = 2 * start - end
        if now < int(s.bid_close.timestamp()) - gate_s:
            out.append(BidWindow(bid_open, start, end))
    return out


def window_view(
    trace: HouseTrace | TraceSource,
    window: BidWindow,
    now: int,
    capacity_wh: float,
    tz_minutes: int,
    progress: float,
    prices: GridPrices,
) -> SlotView:
    """What the agent knows about ``window`` from its house's simulated day (Wh, 0..1), at
    the grid's ``prices`` (wei/kWh)."""
    source = as_source(trace)
    w = source.span(window.start, window.end)
    net = float(np.sum(w.pv_w - w.load_w) * w.step_s / 3600.0)
    pv = float(np.sum(w.pv_w) * w.step_s / 3600.0)
    load = float(np.sum(w.load_w) * w.step_s / 3600.0)
    at = source.locate(now)
    hour = ((window.start + tz_minutes * 60) % DAY) / 3600.0
    return SlotView(
        yesterday_net_wh=net,
        clear_sky_pv_wh=pv,
        load_forecast_wh=load,
        soc=float(at.trace.soc[at.index]),
        capacity_wh=capacity_wh,
        hour_of_day=hour,
        feed_in=prices.feed_in_wei_per_kwh,
        import_price=prices.import_wei_per_kwh,
        progress=progress,
    )


@contextlib.asynccontextmanager
async def trading_agents(
    hub: ChainHub,
    houses: Mapping[str, tuple[HouseTrace | TraceSource, float]],
    clock: Clock,
    stop: asyncio.Event,
    prices: GridPrices,
    every_s: float = 900.0,
    design: str = "decentralized",
    send: Callable[[str, SignedOrder], object] | None = None,
    mpc: Mapping[str, MpcHouse] | None = None,
) -> AsyncIterator[dict[str, TradingAgent]]:
    """Run every house's trading agent every ``every_s`` model seconds until exit.

    Args:
        hub: the market, its order book and the houses' dev keys.
        houses: house id → (its simulated trace, battery capacity in Wh).
        clock: model time.
        stop: set when the run stops (a round leaves off between houses).
        prices: grid import / feed-in prices, wei per kWh.
        every_s: model seconds between rounds.
        design: the market design, ``decentralized``, ``centralized`` or ``hybrid``.
        send: centralized/hybrid: ``send(house, signed_order)`` hands a house's signed
            order to the coordinator (e.g. :class:`~gridpeer.hems.order_sender.OrderSender`).
        mpc: houses run by model-predictive control (``[market] strategy = "mpc"``):
            at the start of each round each reads its new readings from the store,
            re-plans its rolling horizon, sets its battery's and car's set points (a
            :class:`~gridpeer.devices.scheduled.ScheduledHouse` trace) and then orders
            what its plan buys and sells in each open window.

    Raises:
        ValueError: a centralized or hybrid design without ``send``.

    Yields:
        the agents by house id (owners' settings can be changed while they run).
    """
    market, lock = hub.market, hub.lock

    def book(window: tuple[int, int]) -> list[Order]:
        return [o for o in list(hub.orders.values()) if (o.start, o.end) == window]

    if design != "decentralized" and send is None:
        raise ValueError(f"the {design} market needs a sender of signed orders")

    def agent(house: str) -> TradingAgent:
        submit = None if send is None else functools.partial(send, house)
        strategy = mpc[house].intents if mpc is not None and house in mpc else None
        return TradingAgent(
            market, hub.demo_keys[house], design, book=book, submit=submit, strategy=strategy
        )

    def replan(now: int) -> None:
        """Every MPC house reads its new readings, then all plan together (a few HiGHS
        solves) and set their devices' set points."""
        if not mpc:
            return
        inputs: dict[str, PlanInput] = {}
        for house, m in mpc.items():
            if stop.is_set():
                return
            try:
                m.observe(now)
                at = as_source(houses[house][0]).locate(now)
                car = at.trace.ev_soc
                ev_soc = float(car[at.index]) if car is not None else 0.0
                inp = m.prepare(now, float(at.trace.soc[at.index]), ev_soc)
            except Exception as exc:  # one house's failure never stops the others
                log.warning("MPC agent %s: %s", house, exc)
                continue
            if inp is not None:
                inputs[house] = inp
        for house, plan in replan_all(inputs, mpc).items():
            source = houses[house][0]
            if isinstance(source, ScheduledHouse):
                source.set_points(plan.set_points(), now, ev=plan.ev_points())

    agents = {h: agent(h) for h in houses}

    def round_() -> None:
        with lock:
            # chain time up to model time first: a round that starts as a session opens
            # would otherwise be refused as OutsideWindow by a chain a few seconds behind
            try:
                hub.sync_time()
            except Exception as exc:  # the agents' refusals below will say what it means
                log.warning("chain time not moved to model time: %s", exc)
            schedule = market.schedule()
            now = max(market.now(), int(clock.timestamp()))
        replan(now)
        for w in open_windows(schedule, now):
            for house, agent in agents.items():
                if stop.is_set():  # the run is stopping: leave the rest of the round
                    return
                if clock.timestamp() >= w.start:  # bidding is over (a round of 1,000
                    break  # houses outlasts a session at 60x): the contract would refuse
                trace, capacity_wh = houses[house]
                view = window_view(
                    trace, w, now, capacity_wh, schedule.tz_minutes, w.progress(now), prices
                )
                try:
                    with lock:  # one house at a time: the web app and the oracle get turns
                        agent.act((w.start, w.end), view)
                except Exception as exc:  # one house's refusal never stops the others
                    log.warning("trading agent %s: %s", house, exc)

    async def loop() -> None:
        while not stop.is_set():
            await asyncio.to_thread(round_)
            await clock.sleep(every_s)

    task = asyncio.create_task(loop(), name="trading-agents")
    try:
        yield agents
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
