"""``gridpeer broker-config`` with ``[mqtt] tls = true`` against a real Mosquitto started
with the generated config: clients holding the community's CA connect, clients without it
or with another CA (or in plain TCP) are refused, a 10 MB payload never gets through, and,
started as root, Mosquitto (which drops to the ``mosquitto`` user) can read its files and
write its persistence."""

from __future__ import annotations

import os
import pwd
import queue
import threading
from pathlib import Path

import pytest

from gridpeer.core.mqtt import BrokerAddress, MqttClient, MqttTls
from gridpeer.core.settings import load_settings
from gridpeer.telemetry.broker_tls import ensure_ca
from tests.services.mosquitto_tls import (
    PASSWORDS,
    ConfiguredMosquitto,
    broker_config,
    community_toml,
    paho_tls_client,
)
from tests.services.ports import free_port

pytestmark = pytest.mark.mosquitto


def _client(
    name: str, address: BrokerAddress, inbox: queue.Queue[bytes] | None = None
) -> MqttClient:
    return MqttClient(
        f"test-{name}",
        address,
        subscriptions=["gridpeer/villa/#"] if inbox is not None else [],
        on_message=(lambda t, p: inbox.put(p)) if inbox is not None else None,
        clean_session=True,
    )


def _send_huge(address: BrokerAddress, size: int) -> bool:
    """Publish ``size`` bytes (QoS 0, no retry) as an attacker would; True once the broker
    disconnected the sender."""
    gone = threading.Event()
    c = paho_tls_client(address, "test-attacker")
    c.on_disconnect = lambda *a: gone.set()
    c.connect(address.host, address.port)
    c.loop_start()
    try:
        c.publish("gridpeer/villa/h1/meter/reading", b"y" * size, qos=0)
        return gone.wait(30)
    finally:
        c.loop_stop()


def _refused(address: BrokerAddress) -> str:
    client = _client("refused", address)
    with pytest.raises(ConnectionError) as caught:
        client.start(timeout_s=3)
    return str(caught.value)


def test_tls_broker_admits_only_clients_verifying_it_and_drops_huge_payloads(
    mosquitto_dir: Path,
) -> None:
    port, out = free_port(), mosquitto_dir / "mq"
    toml = community_toml(mosquitto_dir / "c.toml", port, out / "ca.crt")
    broker_config(toml, out)
    if os.geteuid() == 0:  # handed to the user Mosquitto drops to, secrets still private
        broker_uid = pwd.getpwnam("mosquitto").pw_uid
        for name in ("passwd", "acl", "server.key", "server.crt"):
            assert (out / name).stat().st_uid == broker_uid, name
        assert (out / "server.key").stat().st_mode & 0o077 == 0
        assert (out / "ca.key").stat().st_uid == 0 and (out / "ca.key").stat().st_mode & 0o077 == 0
    conf = (out / "mosquitto.conf").read_text()
    assert "message_size_limit 65536" in conf and "certfile" in conf
    assert "user root" not in conf  # started as root, it really drops to 'mosquitto'

    broker = ConfiguredMosquitto(out / "mosquitto.conf", port)
    clients: list[MqttClient] = []
    try:
        settings = load_settings(toml)
        services = settings.mqtt.address()
        assert services.tls == MqttTls(str(out / "ca.crt"))
        inbox: queue.Queue[bytes] = queue.Queue()
        sub = _client("sub", services, inbox)
        sub.start()
        clients.append(sub)
        h1 = _client("h1", services.as_user("h1", PASSWORDS["h1"]))
        h1.start()  # as_user keeps TLS
        clients.append(h1)

        assert h1.publish("gridpeer/villa/h1/meter/reading", b"small")
        assert inbox.get(timeout=10) == b"small"
        legit = b"x" * 60_000  # far above any gridpeer message, under the limit
        assert h1.publish("gridpeer/villa/h1/meter/reading", legit)
        assert inbox.get(timeout=10) == legit

        dropped = _send_huge(services.as_user("h1", PASSWORDS["h1"]), 10_000_000)
        assert dropped  # the broker cut the sender off
        assert h1.publish("gridpeer/villa/h1/meter/reading", b"after")
        assert inbox.get(timeout=10) == b"after"  # in order: the 10 MB never came through
        assert inbox.empty()

        assert "certificate verify failed" in _refused(
            services.__class__("127.0.0.1", port, "services", PASSWORDS["services"], MqttTls(None))
        )  # the system's CAs do not know the community's
        other_ca = mosquitto_dir / "other"
        other_ca.mkdir()
        ensure_ca(other_ca, "impostor")
        wrong = BrokerAddress(
            "127.0.0.1", port, "services", PASSWORDS["services"], MqttTls(str(other_ca / "ca.crt"))
        )
        assert "certificate verify failed" in _refused(wrong)
        _refused(BrokerAddress("127.0.0.1", port, "services", PASSWORDS["services"]))  # no TLS
    finally:
        for c in clients:
            c.stop()
        broker.stop()
    assert (out / "data" / "mosquitto.db").exists()  # persistence written, as 'mosquitto'
    if os.geteuid() == 0:  # the broker can write only its data directory
        assert (out / "data").stat().st_uid == pwd.getpwnam("mosquitto").pw_uid
        assert out.stat().st_uid == 0 and (out / "ca.crt").stat().st_uid == 0


def test_client_certificates_are_required_when_issued(mosquitto_dir: Path) -> None:
    port, out = free_port(), mosquitto_dir / "mq"
    toml = community_toml(mosquitto_dir / "c.toml", port, out / "ca.crt")
    broker_config(toml, out, "--client-certs")
    assert {p.name for p in (out / "clients").iterdir()} == {
        "h1.crt",
        "h1.key",
        "services.crt",
        "services.key",
    }
    first = (out / "ca.crt").read_bytes()
    broker_config(toml, out, "--client-certs")  # idempotent: the CA is kept
    assert (out / "ca.crt").read_bytes() == first
    broker = ConfiguredMosquitto(out / "mosquitto.conf", port)
    try:
        ca, cert, key = (str(out / f) for f in ("ca.crt", "clients/h1.crt", "clients/h1.key"))
        with_cert = _client(
            "cert", BrokerAddress("127.0.0.1", port, "h1", PASSWORDS["h1"], MqttTls(ca, cert, key))
        )
        with_cert.start()
        with_cert.stop()
        _refused(BrokerAddress("127.0.0.1", port, "h1", PASSWORDS["h1"], MqttTls(ca)))
    finally:
        broker.stop()
