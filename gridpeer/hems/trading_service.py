"""The trading agents of ``gridpeer demo``: every house trades for its owner.

Add it to the demo composition after the ``chain`` service::

    comp.add("trading", trading, after="chain")

Every ``every_s`` model seconds, for each delivery window whose bidding is open on chain
(the contract's schedule), each house's :class:`~gridpeer.hems.trading_live.TradingAgent`
forecasts its surplus / deficit for the window from its simulated trace (persistence:
the demo's synthetic day repeats), and trades on the decentralized market: it takes
acceptable orders from the book and posts the rest, prices ramping across the bidding
window. Owners switch a house's agent off or override it through
``extras["trading"][house].settings`` (an :class:`~gridpeer.hems.trading_agent.OwnerSettings`).
Units: energy Wh, prices wei per kWh, times UTC unix seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridpeer.chain.types import Schedule
from gridpeer.devices.trace import HouseTrace
from gridpeer.hems.trading_agent import SlotView
from gridpeer.hems.trading_live import TradingAgent

log = logging.getLogger(__name__)

DAY = 86_400
FEED_IN_WEI_PER_KWH = 50 * 10**12
IMPORT_WEI_PER_KWH = 200 * 10**12


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
    """Delivery windows taking bids at ``now`` (until ``gate_s`` before their start).

    ``windows`` mode: the two daily sessions (local minutes, ``tz_minutes`` from UTC);
    ``continuous``: the next slot; ``open``: none (no schedule to trade against)."""
    tz = schedule.tz_minutes * 60
    out: list[BidWindow] = []
    if schedule.mode == "windows":
        b1, d1, e1, b2, d2, e2 = schedule.windows
        midnight = (now + tz) // DAY * DAY - tz
        for day in (midnight - DAY, midnight, midnight + DAY):
            for b, d, e in ((b1, d1, e1), (b2, d2, e2)):
                w = BidWindow(day + b * 60, day + d * 60, day + e * 60)
                if w.bid_open <= now < w.start - gate_s:
                    out.append(w)
    elif schedule.mode == "continuous":
        slot = schedule.slot_minutes * 60
        start = ((now + tz) // slot + 1) * slot - tz
        if now < start - gate_s:
            out.append(BidWindow(start - slot, start, start + slot))
    return out


def window_view(
    trace: HouseTrace,
    window: BidWindow,
    now: int,
    capacity_wh: float,
    tz_minutes: int,
    progress: float,
) -> SlotView:
    """What the agent knows about ``window`` from its house's simulated day (Wh, 0..1)."""
    t0 = trace.start.timestamp()
    n = len(trace)
    idx = (((np.arange(window.start, window.end, trace.step_s) - t0) // trace.step_s) % n).astype(
        np.int64
    )
    net = float(np.sum(trace.pv_w[idx] - trace.load_w[idx]) * trace.step_s / 3600.0)
    pv = float(np.sum(trace.pv_w[idx]) * trace.step_s / 3600.0)
    load = float(np.sum(trace.load_w[idx]) * trace.step_s / 3600.0)
    k = int(((now - t0) // trace.step_s) % n)
    hour = ((window.start + tz_minutes * 60) % DAY) / 3600.0
    return SlotView(
        yesterday_net_wh=net,
        clear_sky_pv_wh=pv,
        load_forecast_wh=load,
        soc=float(trace.soc[k]),
        capacity_wh=capacity_wh,
        hour_of_day=hour,
        feed_in=FEED_IN_WEI_PER_KWH,
        import_price=IMPORT_WEI_PER_KWH,
        progress=progress,
    )


@contextlib.asynccontextmanager
async def trading(parts: Any, every_s: float = 900.0) -> AsyncIterator[None]:
    """Run every house's trading agent every ``every_s`` model seconds until exit
    (nothing when the run's settings turn the agents off: ``gridpeer demo --no-agents``)."""
    if not getattr(parts.settings, "agents", True):
        log.info("trading agents off: people trade by hand")
        yield
        return
    hub = parts.extras["chain_hub"]
    market = parts.extras["market"]
    lock = parts.extras["chain_lock"]

    def book(window: tuple[int, int]) -> list[Any]:
        return [o for o in list(hub.orders.values()) if (o.start, o.end) == window]

    agents = {h.id: TradingAgent(market, hub.demo_keys[h.id], book=book) for h in parts.houses}
    traces = {h.id: t for h, t in zip(parts.houses, parts.traces, strict=True)}
    caps = {h.id: float(getattr(h, "bess_kwh", 0.0)) * 1000.0 for h in parts.houses}
    parts.extras["trading"] = agents

    def round_() -> None:
        with lock:
            schedule = market.schedule()
            now = max(market.now(), int(parts.clock.timestamp()))
        for w in open_windows(schedule, now):
            for house, agent in agents.items():
                if parts.stop.is_set():  # the demo is stopping: leave the rest of the round
                    return
                view = window_view(
                    traces[house], w, now, caps[house], schedule.tz_minutes, w.progress(now)
                )
                try:
                    with lock:  # one house at a time: the web app and the oracle get turns
                        agent.act((w.start, w.end), view)
                except Exception as exc:  # one house's refusal never stops the others
                    log.warning("trading agent %s: %s", house, exc)

    async def loop() -> None:
        while not parts.stop.is_set():
            await asyncio.to_thread(round_)
            await parts.clock.sleep(every_s)

    task = asyncio.create_task(loop(), name="trading-agents")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
