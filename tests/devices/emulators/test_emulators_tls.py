"""An emulated Tasmota plug on the community's TLS Mosquitto (``gridpeer broker-config``
with ``[mqtt] tls``): it verifies the broker with the community CA from the config, logs
in as its house, publishes its telemetry and obeys relay commands; without TLS, or with
another CA, it gets no session."""

from __future__ import annotations

import json
import queue
from pathlib import Path

import pytest

from gridpeer.core.mqtt import MqttClient, MqttTls
from gridpeer.core.settings import load_settings
from gridpeer.devices.emulators.base import Channel, constant
from gridpeer.devices.emulators.tasmota import TasmotaEmulator
from gridpeer.telemetry.broker_tls import ensure_ca
from tests.services.mosquitto_tls import (
    PASSWORDS,
    ConfiguredMosquitto,
    broker_config,
    community_toml,
)
from tests.services.ports import free_port

pytestmark = pytest.mark.mosquitto
TOPIC = "p2p-in-h1"


H1_PLUG = f"""[[accounts.devices]]
kind = "tasmota"
topic = "{TOPIC}"
role = "in"
"""


def test_tasmota_emulator_speaks_tls_with_the_community_ca(mosquitto_dir: Path) -> None:
    port, out = free_port(), mosquitto_dir / "mq"
    toml = community_toml(mosquitto_dir / "c.toml", port, out / "ca.crt", H1_PLUG)
    broker_config(toml, out)
    broker = ConfiguredMosquitto(out / "mosquitto.conf", port)
    stops = []
    try:
        address = load_settings(toml).mqtt.address()
        assert address.tls == MqttTls(str(out / "ca.crt"))
        login = ("h1", PASSWORDS["h1"])
        inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        house = MqttClient(
            "test-h1-agent",
            address.as_user(*login),
            subscriptions=[f"tele/{TOPIC}/#", f"stat/{TOPIC}/#"],
            on_message=lambda t, p: inbox.put((t, p)),
            clean_session=True,
        )
        house.start()
        stops.append(house.stop)
        plug = TasmotaEmulator(
            TOPIC,
            "127.0.0.1",
            port,
            [Channel(constant(500.0))],
            tele_period_s=0.3,
            tls=address.tls,
            credentials=login,
        )
        plug.start()
        stops.append(plug.stop)

        def next_on(topic: str) -> bytes:
            while True:
                t, p = inbox.get(timeout=10)
                if t == topic:
                    return p

        assert next_on(f"tele/{TOPIC}/LWT") == b"Online"
        sensor = json.loads(next_on(f"tele/{TOPIC}/SENSOR"))
        assert sensor["ENERGY"]["Power"] == 0  # relay open
        assert house.publish(f"cmnd/{TOPIC}/POWER1", b"ON")
        assert json.loads(next_on(f"stat/{TOPIC}/RESULT")) == {"POWER": "ON"}
        while json.loads(next_on(f"tele/{TOPIC}/SENSOR"))["ENERGY"]["Power"] != 500:
            pass  # the plug now meters its load, still over TLS

        # no session in clear, nor when verifying the broker with another CA
        clear = TasmotaEmulator(
            "plain", "127.0.0.1", port, [Channel(constant(1.0))], credentials=login
        )
        with pytest.raises(TimeoutError):
            clear.link.start(wait_s=3)
        clear.link.stop()
        other = mosquitto_dir / "other"
        other.mkdir()
        ensure_ca(other, "impostor")
        fake = TasmotaEmulator(
            "fake",
            "127.0.0.1",
            port,
            [Channel(constant(1.0))],
            tls=MqttTls(str(other / "ca.crt")),
            credentials=login,
        )
        with pytest.raises(TimeoutError):
            fake.link.start(wait_s=3)
        fake.link.stop()
    finally:
        for stop in reversed(stops):
            stop()
        broker.stop()
