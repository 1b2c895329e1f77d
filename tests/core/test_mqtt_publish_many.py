"""``MqttClient.publish_many``: many QoS 1 messages published at once through a real
Mosquitto, acknowledged per message, all received; refused ones report False."""

from __future__ import annotations

import threading

import pytest

from gridpeer.core.mqtt import MqttClient
from gridpeer.telemetry.broker import MosquittoBroker

pytestmark = pytest.mark.mosquitto


def test_all_published_together_are_acknowledged_and_received(
    mosquitto: MosquittoBroker,
) -> None:
    got: list[tuple[str, bytes]] = []
    done = threading.Event()

    def on_message(topic: str, payload: bytes) -> None:
        got.append((topic, payload))
        if len(got) == 120:
            done.set()

    sub = MqttClient("sub", mosquitto.address, subscriptions=["t/#"], on_message=on_message)
    pub = MqttClient("pub", mosquitto.address)
    sub.start()
    pub.start()
    try:
        msgs: list[tuple[str, bytes | str, bool]] = [
            (f"t/{i}", f"m{i}".encode(), i % 2 == 0) for i in range(120)
        ]
        assert pub.publish_many(msgs, timeout=10.0) == [True] * 120
        assert done.wait(10)
        assert sorted(got) == sorted((t, p) for t, p, _ in msgs if isinstance(p, bytes))
        assert pub.publish_many([("bad/#", b"x", False)], timeout=1.0) == [False]  # refused
    finally:
        pub.stop()
        sub.stop()
