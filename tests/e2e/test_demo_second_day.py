"""The demo on its second model day: the demo's own services (store, history, embedded
broker, sensor nodes and home agents, embedded chain, oracle and delivery agents, trading
agents; not the web process) with every house on its second simulated day (a different
day from the first, battery SoC carried over midnight). The agents trade for the day's
first delivery window (13:00-14:00 local = 17:00 UTC); every trade settles, a seller
that had the power delivers Wh > 0, and each is paid metered Wh x price."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from gridpeer.chain.events import DeliveryConfirmed, TradeCreated
from gridpeer.core.settings import Settings
from gridpeer.hems.delivery_power import TracePower
from gridpeer.runtime import services
from gridpeer.runtime.community import house_days, house_info, lab_configs
from gridpeer.runtime.composition import Composition, Parts
from gridpeer.runtime.delivery import delivery
from gridpeer.runtime.demo import demo_clock

SPEED = 480.0  # a model hour in 7.5 wall seconds
START_HOUR = 14.4  # 10:24 local: bidding for 13:00-14:00 opens at 10:30
HOURS = timedelta(hours=4)


def composition() -> Composition:
    comp = Composition()
    comp.add("store", services.store)
    comp.add("history", services.seed_history)
    comp.add("broker", services.embedded_broker)
    comp.add("monitoring", services.monitoring)
    comp.add("chain", services.chain)
    comp.add("oracle", delivery)
    comp.add("trading", services.trading)
    return comp


def energy_wh(power: TracePower, start: int, end: int) -> float:
    """What a seller could push over ``[start, end)`` (UTC s), Wh, minute by minute."""
    return sum(
        power.available_w(datetime.fromtimestamp(t, UTC)) / 60.0 for t in range(start, end, 60)
    )


async def test_agents_trade_and_sellers_are_paid_on_the_second_day(tmp_path: Path) -> None:
    settings = Settings(speed=SPEED, houses=5, data_dir=tmp_path)
    clock = demo_clock(SPEED, START_HOUR)
    first = clock.start.date() - timedelta(days=1)  # the run started yesterday
    configs = lab_configs(5)
    days = await asyncio.to_thread(house_days, configs, first)
    assert not np.array_equal(days[0].period(0).load_w, days[0].period(1).load_w)
    parts = Parts(
        settings=settings,
        clock=clock,
        data_dir=tmp_path,
        houses=[house_info(c) for c in configs],
        traces=list(days),
    )
    window_start = int(clock.start.timestamp()) + round((17.0 - START_HOUR) * 3600)
    window = (window_start, window_start + 3600)
    run = asyncio.create_task(composition().run(parts))
    try:
        trades: dict[int, Any] = {}
        conf: dict[int, DeliveryConfirmed] = {}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            assert not run.done(), run.exception()
            if parts.hub is None or clock.timestamp() < window[1] + 700:
                continue
            with parts.hub.lock:
                events = parts.hub.market.events(0)
            trades = {
                e.trade.id: e.trade
                for e in events
                if isinstance(e, TradeCreated) and (e.trade.start, e.trade.end) == window
            }
            conf = {e.trade_id: e for e in events if isinstance(e, DeliveryConfirmed)}
            if trades and set(trades) <= set(conf):
                break
        assert trades, "the agents made no trade for the second day's first window"
        # the history seeded yesterday's readings too, and yesterday is another day
        assert parts.store is not None
        today = clock.start.replace(hour=10, minute=0)
        yesterday = today - timedelta(days=1)
        for device in ("meter", "pv"):
            old = [b.p for b in parts.store.history("h1", device, yesterday, yesterday + HOURS)]
            new = [b.p for b in parts.store.history("h1", device, today, today + HOURS)]
            assert len(old) == len(new) == 240 and old != new
        assert set(trades) <= set(conf), f"unsettled: {sorted(set(trades) - set(conf))}"
        assert parts.hub is not None and parts.delivery is not None
        house_of = {k.address.lower(): h for h, k in parts.hub.demo_keys.items()}
        rt = parts.delivery
        sold: dict[str, int] = {}
        for t in trades.values():
            seller = house_of[t.seller.lower()]
            sold[seller] = sold.get(seller, 0) + t.wh
        for tid, t in trades.items():
            c = conf[tid]
            seller = house_of[t.seller.lower()]
            power = rt.agents[seller].power
            assert isinstance(power, TracePower)
            assert power.source.index(window[0]) == 1  # the house's second simulated day
            if energy_wh(power, *window) >= sold[seller]:  # the seller had the power
                assert c.delivered_wh > 0, (tid, seller, t.wh)
            assert c.seller_paid == c.delivered_wh * t.price // 1000
            assert c.seller_paid + c.buyer_refund == t.escrow
    finally:
        parts.stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(run, 60)
