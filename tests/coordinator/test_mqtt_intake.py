"""Signed orders over MQTT (real Mosquitto): stored and acknowledged on the house's ack
topic; an order on another house's topic or a malformed one is refused with a reason."""

from __future__ import annotations

import json
import threading

import pytest

from gridpeer.coordinator.mqtt_intake import MqttIntake, ack_topic, orders_topic
from gridpeer.coordinator.wire import signature_hex, terms_json
from gridpeer.core.mqtt import MqttClient
from gridpeer.telemetry.broker import MosquittoBroker
from tests.coordinator.test_service import PRICE, Env

pytestmark = pytest.mark.mosquitto


def test_orders_over_mqtt_are_stored_and_acknowledged(mosquitto: MosquittoBroker) -> None:
    env = Env("hybrid")
    s1, s2, _, _ = env.h
    intake = MqttIntake(env.coord, mosquitto.address, "lab")
    acks: list[tuple[str, dict[str, object]]] = []
    got = threading.Condition()

    def on_ack(topic: str, payload: bytes) -> None:
        with got:
            acks.append((topic, json.loads(payload)))
            got.notify_all()

    house = MqttClient(
        "h-test", mosquitto.address, subscriptions=[ack_topic("lab", "+")], on_message=on_ack
    )
    intake.start()
    house.start()
    try:
        signed = env.sign(s1, True, 100, PRICE)
        body = json.dumps({"order": terms_json(signed.terms), "signature": signature_hex(signed)})
        house.publish(orders_topic("lab", "h1"), body)
        house.publish(orders_topic("lab", "h2"), body)  # h1's order on h2's topic
        house.publish(orders_topic("lab", "h2"), b"not json")
        with got:
            assert got.wait_for(lambda: len(acks) == 3, 20)
        by_topic: dict[str, list[dict[str, object]]] = {}
        for t, a in acks:
            by_topic.setdefault(t, []).append(a)
        [ok] = by_topic[ack_topic("lab", "h1")]
        assert ok["state"] == "accepted"
        [stored] = env.store.orders()
        assert (stored.id, stored.house, stored.maker) == (ok["id"], "h1", s1.address)
        refused = by_topic[ack_topic("lab", "h2")]
        assert sorted(int(str(a["status"])) for a in refused) == [400, 422]
        assert any("h2's topic" in str(a["detail"]) for a in refused)
        assert s2.address not in {o.maker for o in env.store.orders()}
    finally:
        house.stop()
        intake.stop()


def test_a_repeated_order_is_answered_again_off_the_network_thread(
    mosquitto: MosquittoBroker,
) -> None:
    env = Env("hybrid")
    s1, _, _, _ = env.h
    intake = MqttIntake(env.coord, mosquitto.address, "lab")
    threads: list[threading.Thread] = []
    accept = env.coord.accept

    def spy(signed):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        return accept(signed)

    env.coord.accept = spy  # type: ignore[method-assign]
    acks: list[dict[str, object]] = []
    got = threading.Condition()

    def on_ack(topic: str, payload: bytes) -> None:
        with got:
            acks.append(json.loads(payload))
            got.notify_all()

    house = MqttClient(
        "h-test2", mosquitto.address, subscriptions=[ack_topic("lab", "h1")], on_message=on_ack
    )
    intake.start()
    house.start()
    try:
        signed = env.sign(s1, True, 100, PRICE)
        body = json.dumps({"order": terms_json(signed.terms), "signature": signature_hex(signed)})
        house.publish(orders_topic("lab", "h1"), body)
        house.publish(orders_topic("lab", "h1"), body)  # a retry: same order, same signature
        with got:
            assert got.wait_for(lambda: len(acks) == 2, 20)
        [stored] = env.store.orders()
        assert acks == [{"id": stored.id, "state": "accepted"}] * 2
        assert intake._worker is not None and set(threads) == {intake._worker}
    finally:
        house.stop()
        intake.stop()


def test_an_order_not_stored_is_not_acknowledged_and_comes_again(
    mosquitto: MosquittoBroker,
) -> None:
    """The coordinator fails before storing (store down, then a restart): the broker got
    no PUBACK, so it delivers the order again to the next coordinator session."""
    env = Env("hybrid")
    s1, _, _, _ = env.h
    failed = threading.Event()
    accept = env.coord.accept

    def store_down(signed):  # type: ignore[no-untyped-def]
        failed.set()
        raise RuntimeError("store unavailable")

    env.coord.accept = store_down  # type: ignore[method-assign]
    first = MqttIntake(env.coord, mosquitto.address, "lab")
    acks: list[dict[str, object]] = []
    got = threading.Condition()

    def on_ack(topic: str, payload: bytes) -> None:
        with got:
            acks.append(json.loads(payload))
            got.notify_all()

    house = MqttClient(
        "h-test3", mosquitto.address, subscriptions=[ack_topic("lab", "h1")], on_message=on_ack
    )
    first.start()
    house.start()
    second: MqttIntake | None = None
    try:
        signed = env.sign(s1, True, 100, PRICE)
        body = json.dumps({"order": terms_json(signed.terms), "signature": signature_hex(signed)})
        house.publish(orders_topic("lab", "h1"), body)
        assert failed.wait(20)
        first.stop()
        assert acks == [] and env.store.orders() == []
        env.coord.accept = accept  # type: ignore[method-assign]
        second = MqttIntake(env.coord, mosquitto.address, "lab")  # same client id: session
        second.start()
        with got:
            assert got.wait_for(lambda: len(acks) == 1, 20)
        [stored] = env.store.orders()
        assert acks == [{"id": stored.id, "state": "accepted"}]
    finally:
        house.stop()
        if second is not None:
            second.stop()
