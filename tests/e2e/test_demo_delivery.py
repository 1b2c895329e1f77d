"""The demo's delivery service on the embedded chain and the embedded amqtt broker: a
trade between two simulated houses is delivered from the seller's real PV surplus and
confirmed on chain."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.events import DeliveryConfirmed
from gridpeer.chain.hub import ChainHub
from gridpeer.core.clock import Clock
from gridpeer.core.settings import load_settings
from gridpeer.devices.trace import HouseTrace
from gridpeer.runtime.composition import Parts
from gridpeer.runtime.delivery import delivery
from gridpeer.telemetry.broker import start_embedded_broker
from tests.services.ports import free_port


def flat_trace(house: str, pv_w: float, load_w: float) -> HouseTrace:
    n = 48
    z = np.zeros(n)
    start = datetime.fromtimestamp(time.time() - 3600, UTC)
    return HouseTrace(house, start, 300, z + load_w, z + pv_w, z, z, z, z, z, z, z + 230.0)


async def test_demo_delivery_service_settles_a_trade(tmp_path: Path) -> None:
    chain = await asyncio.to_thread(open_chain, "embedded")
    market = await asyncio.to_thread(chain.deploy_market, 3600)
    await asyncio.to_thread(market.set_schedule, chain.admin, Schedule("open"))
    keys = await asyncio.to_thread(chain.houses, 2, market)
    broker = await start_embedded_broker(free_port())
    clock = Clock(start=datetime.fromtimestamp(market.now(), UTC))
    hub = ChainHub(market, clock, {"h1": keys[0], "h2": keys[1]}, follow_clock=False)
    lock = hub.lock
    houses = [SimpleNamespace(id="h1"), SimpleNamespace(id="h2")]
    parts = Parts(
        load_settings(None, community="demo"),
        clock,
        tmp_path,
        houses,  # type: ignore[arg-type]
        # h1 has a 360 kW surplus (100 Wh/s) so the test is quick; h2 is a consumer
        [flat_trace("h1", 361_000.0, 1000.0), flat_trace("h2", 0.0, 500.0)],
        broker=broker.address,
        chain=chain,
        hub=hub,
    )
    try:
        async with delivery(parts):
            rt = parts.delivery
            assert rt is not None
            for a in rt.agents.values():  # a big line so the trade completes in seconds
                a.power = replace(a.power, line_max_w=400_000.0)
            with lock:
                start = market.now() + 3
                oid = market.post_offer(keys[0], 300, 10**15, start, start + 20)
                tid = market.buy(keys[1], oid, 300)
            deadline = time.monotonic() + 60
            conf: list[DeliveryConfirmed] = []
            while time.monotonic() < deadline and not conf:
                await asyncio.sleep(0.5)
                with lock:
                    market.set_time(max(market.now() + 1, int(time.time())))  # blocks tick
                    conf = [e for e in market.events(0) if isinstance(e, DeliveryConfirmed)]
            assert [c.trade_id for c in conf] == [tid]
            # seller OUT is its surplus (360 kW = 100 Wh/s) and the buyer's IN meter reads
            # what the line carries: 300 Wh in ~3 s, well inside the 20 s window
            assert 250 <= conf[0].delivered_wh <= 300
    finally:
        await broker.stop()
