"""The trading agents' signed-order path (centralized / hybrid): the demo's trading
service signs one EIP-712 order per window and side with each house's key and sends it
through a real Mosquitto to the coordinator's intake topic, in the wire format; the
coordinator library accepts what arrives. Decentralized agents send nothing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gridpeer.chain import order_wire
from gridpeer.chain.accounts import dev_account
from gridpeer.chain.events import OrderPosted
from gridpeer.chain.types import SignedOrder, cost_wei
from gridpeer.coordinator.service import Coordinator
from gridpeer.core.mqtt import MqttClient
from gridpeer.hems.order_sender import mqtt_order_sender
from gridpeer.hems.trading_live import TradingAgent
from gridpeer.hems.trading_service import trading_agents
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.order_topics import ack_topic, house_of, order_filter, order_topic
from tests.hems.test_delivery_trading_live import T, setup, view
from tests.hems.test_delivery_trading_service import D0, HOUSES, PRICES, _hub

W = (D0 + 13 * 3600, D0 + 14 * 3600)  # the window _hub's clock is bidding for


def test_topics() -> None:
    assert order_topic("lab", "h1") == "gridpeer/lab/orders/h1"
    assert ack_topic("lab", "h1") == "gridpeer/lab/orders/h1/ack"
    assert order_filter("lab") == "gridpeer/lab/orders/+"
    assert house_of("gridpeer/lab/orders/h1") == "h1"
    assert house_of("gridpeer/lab/orders/h1/ack") is None
    assert house_of("gridpeer/lab/h1/meter/reading") is None
    with pytest.raises(ValueError, match="house"):
        order_topic("lab", "h/1")


@pytest.mark.parametrize("design", ["centralized", "hybrid"])
async def test_agents_sign_one_order_per_window_and_side(design: str) -> None:
    hub, _now = _hub()
    sent: list[tuple[str, SignedOrder]] = []

    def send(house: str, signed: SignedOrder) -> None:
        sent.append((house, signed))

    stop = asyncio.Event()
    async with trading_agents(
        hub, HOUSES, hub.clock, stop, PRICES, 0.05, design=design, send=send
    ) as agents:
        while len(sent) < 2:
            await asyncio.sleep(0.05)
    assert agents["h1"].mode == design
    assert agents["h1"].act(W, view(2500.0, 0.5)) == []  # nothing is signed twice
    by_house = dict(sent)
    assert len(sent) == 2 and set(by_house) == {"h1", "h2"}
    sell, buy = by_house["h1"].terms, by_house["h2"].terms
    assert (sell.sell, sell.wh) == (True, 2500)  # h1's surplus over the hour
    assert (buy.sell, buy.wh) == (False, 800)  # h2's deficit
    # one sealed order each, priced halfway along their ramps: 114 and 126 CLP/kWh cross
    assert (sell.price, buy.price) == (114 * 10**12, 126 * 10**12)
    for house, signed in sent:
        t = signed.terms
        assert (t.start, t.end, t.expiry, t.nonce) == (*W, W[0], 1)
        assert order_wire.recover(hub.market.domain(), signed) == hub.demo_keys[house].address
        assert PRICES.feed_in_wei_per_kwh <= t.price <= PRICES.import_wei_per_kwh
    # nothing was posted on chain (the coordinator settles); the buyer deposited what its
    # order may cost at its limit price, so the coordinator's credit check passes
    assert not [e for e in hub.market.events(0) if isinstance(e, OrderPosted)]
    assert hub.market.credit(hub.demo_keys["h2"].address) == cost_wei(800, buy.price)
    assert hub.market.credit(hub.demo_keys["h1"].address) == 0


async def test_centralized_agents_need_a_sender() -> None:
    hub, _ = _hub()
    with pytest.raises(ValueError, match="sender of signed orders"):
        async with trading_agents(hub, HOUSES, hub.clock, asyncio.Event(), PRICES, 1.0, "hybrid"):
            pass


def test_a_failed_send_is_retried_in_the_next_round() -> None:
    _chain, market, (h1, _h2) = setup()
    calls: list[int] = []

    def flaky(signed: SignedOrder) -> None:
        calls.append(signed.terms.nonce)
        if len(calls) == 1:
            raise ConnectionError("broker away")

    agent = TradingAgent(market, h1, "centralized", submit=flaky)  # type: ignore[arg-type]
    window = (T + 3600, T + 7200)
    with pytest.raises(ConnectionError):
        agent.act(window, view(400.0, 0.0))
    assert [i.side for i in agent.act(window, view(400.0, 0.1))] == ["sell"]
    assert agent.act(window, view(400.0, 0.2)) == []  # signed once
    assert calls == [1, 2]  # a new nonce: the contract accepts gaps


@pytest.mark.mosquitto
async def test_orders_reach_the_intake_topic_in_the_wire_format(
    mosquitto: MosquittoBroker,
) -> None:
    hub, now = _hub()
    houses = {str(k.address): h for h, k in hub.demo_keys.items()}
    coord = Coordinator(hub.market, dev_account("coordinator"), houses, now=lambda: now)
    received: dict[str, bytes] = {}
    accepted: list[str] = []
    got = threading.Event()

    def intake(topic: str, payload: bytes) -> None:
        house = house_of(topic)
        assert house is not None
        received[house] = payload
        coord.submit(order_wire.decode(payload))  # raises OrderRejected if not valid
        accepted.append(house)
        coordinator.publish(ack_topic("lab", house), b'{"state":"accepted"}')
        if len(received) == 2:
            got.set()

    coordinator = MqttClient(
        "coordinator-test",
        mosquitto.address,
        subscriptions=[order_filter("lab")],
        on_message=intake,
    )
    await asyncio.to_thread(coordinator.start)
    try:
        async with (
            mqtt_order_sender(mosquitto.address, "lab", ["h1", "h2"]) as sender,
            trading_agents(
                hub, HOUSES, hub.clock, asyncio.Event(), PRICES, 10.0, "centralized", sender
            ),
        ):
            assert await asyncio.to_thread(got.wait, 20)
            for _ in range(100):
                if len(sender.acks) == 2:
                    break
                await asyncio.sleep(0.05)
    finally:
        coordinator.stop()
    assert set(received) == {"h1", "h2"}
    for house, payload in received.items():
        signed = order_wire.decode(payload)
        assert order_wire.encode(signed) == payload  # compact, in the documented order
        assert signed.terms.maker == hub.demo_keys[house].address
    assert sender.acks == {"h1": b'{"state":"accepted"}', "h2": b'{"state":"accepted"}'}
    assert sorted(accepted) == ["h1", "h2"]
