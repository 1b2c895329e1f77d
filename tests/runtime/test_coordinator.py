"""The coordinator service of demo/serve (``runtime/coordinator.py``) on a real Mosquitto:
a hybrid market takes a sell order over MQTT and a buy order through the store (as the
web process's ``POST /api/orders`` does), matches them and settles them at gate closure;
the decentralized design starts nothing."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.hub import ChainHub
from gridpeer.chain.types import OrderTerms
from gridpeer.coordinator.intake import Intake
from gridpeer.coordinator.mqtt_intake import orders_topic
from gridpeer.coordinator.wire import signature_hex, terms_json
from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import MqttClient
from gridpeer.core.settings import load_settings
from gridpeer.runtime.composition import Parts
from gridpeer.runtime.coordinator import coordinator
from gridpeer.store.factory import open_store
from gridpeer.telemetry.broker import MosquittoBroker

PRICE = 10**15


def _parts(tmp: Path, design: str, broker: MosquittoBroker | None) -> Parts:
    now = int(time.time())
    chain = open_chain("revm", genesis_time=now)
    market = chain.deploy_market()
    market.set_schedule(chain.admin, Schedule("open"))
    keys = chain.houses(2, market)
    clock = Clock(start=datetime.fromtimestamp(now, UTC), speed=1.0)
    hub = ChainHub(market, clock, {"h1": keys[0], "h2": keys[1]}, follow_clock=False)
    url = f"sqlite:///{tmp}/gp.db"
    settings = load_settings(None, community="rt", market={"design": design, "gate_s": 25})
    parts = Parts(settings=settings, clock=clock, data_dir=tmp, houses=[], traces=[])
    parts.chain, parts.hub, parts.store, parts.store_url = chain, hub, open_store(url), url
    parts.broker = None if broker is None else broker.address
    return parts


@pytest.mark.mosquitto
def test_hybrid_service_settles_orders_from_mqtt_and_the_web_store(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    parts = _parts(tmp_path, "hybrid", mosquitto)
    assert parts.hub is not None and parts.store is not None
    market, (h1, h2) = parts.hub.market, (parts.hub.demo_keys["h1"], parts.hub.demo_keys["h2"])
    market.deposit(h2, 10**17)
    start = int(parts.clock.timestamp()) + 30  # gate closes 25 s before: in ~5 s

    async def run() -> None:
        async with coordinator(parts):
            sell = OrderTerms(h1.address, True, 100, PRICE, start, start + 900, 1, start)
            signed = market.sign_order(h1, sell)
            body = {"order": terms_json(sell), "signature": signature_hex(signed)}
            house = MqttClient("rt-h1", mosquitto.address, clean_session=True)
            house.start()
            house.publish(orders_topic("rt", "h1"), json.dumps(body))
            house.stop()
            web = Intake(  # what the web process does for POST /api/orders
                market,
                open_store(parts.store_url or ""),
                25,
                {h2.address: "h2"},
                lambda: start - 29,
            )
            buy = OrderTerms(h2.address, False, 60, 2 * PRICE, start, start + 900, 1, start)
            web.accept(market.sign_order(h2, buy))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                states = {o.house: o.state for o in parts.store.orders()}  # type: ignore[union-attr]
                if states == {"h1": "settled", "h2": "settled"}:
                    return
                await asyncio.sleep(0.2)
            raise AssertionError(f"not settled: {states}")

    asyncio.run(run())
    [batch] = parts.store.batches(states=["mined"])
    assert (batch.volume_wh, batch.trades) == (60, 1)
    assert batch.price in (PRICE, 2 * PRICE)  # the resting order's (arrival order varies)


def test_decentralized_design_runs_no_coordinator(tmp_path: Path) -> None:
    parts = _parts(tmp_path, "decentralized", None)

    async def run() -> None:
        async with coordinator(parts):
            pass

    asyncio.run(run())
    assert parts.store is not None and parts.store.batches() == []
