"""``gridpeer broker-config`` with ``[mqtt] tls = true`` against a real Mosquitto started
with the generated config: clients holding the community's CA connect, clients without it
or with another CA (or in plain TCP) are refused, a 10 MB payload never gets through, and,
started as root, Mosquitto (which drops to the ``mosquitto`` user) can read its files and
write its persistence."""

from __future__ import annotations

import os
import pwd
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gridpeer.core.mqtt import BrokerAddress, MqttClient, MqttTls
from gridpeer.core.settings import load_settings
from gridpeer.telemetry.broker import MOSQUITTO_BINARY, wait_for_port
from gridpeer.telemetry.broker_tls import ensure_ca
from tests.services.ports import free_port

pytestmark = pytest.mark.mosquitto
PASSWORDS = {"h1": "h1-secret-2a", "services": "svc-secret-9f"}


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory the ``mosquitto`` user can reach (pytest's tmp_path is under a 0700
    directory of root's), removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="gridpeer-broker-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _toml(path: Path, port: int, ca: Path | None) -> Path:
    ca_line = f'ca_file = "{ca}"' if ca else ""
    path.write_text(
        f"""community = "villa"
[mqtt]
embedded = false
port = {port}
username = "services"
password = "{PASSWORDS["services"]}"
tls = true
{ca_line}
[[accounts]]
id = "h1"
mqtt_password = "{PASSWORDS["h1"]}"
"""
    )
    return path


def _broker_config(toml: Path, out: Path, *extra: str) -> None:
    cli = [sys.executable, "-m", "gridpeer.cli", "broker-config"]
    run = subprocess.run(
        [*cli, "-c", str(toml), "-o", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "ca.crt" in run.stdout


class _Broker:
    def __init__(self, conf: Path, port: int) -> None:
        self.stderr = ""
        self.proc = subprocess.Popen(
            [MOSQUITTO_BINARY, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not wait_for_port("127.0.0.1", port, 10):
            self.stop()
            raise AssertionError(f"mosquitto did not start: {self.stderr}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        self.stderr = err.decode(errors="replace")


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
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-attacker")
    assert address.tls is not None and address.username is not None
    c.username_pw_set(address.username, address.password)
    c.tls_set_context(address.tls.context())
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
    open_dir: Path,
) -> None:
    port, out = free_port(), open_dir / "mq"
    toml = _toml(open_dir / "c.toml", port, out / "ca.crt")
    _broker_config(toml, out)
    if os.geteuid() == 0:  # handed to the user Mosquitto drops to, secrets still private
        broker_uid = pwd.getpwnam("mosquitto").pw_uid
        for name in ("passwd", "acl", "server.key", "server.crt"):
            assert (out / name).stat().st_uid == broker_uid, name
        assert (out / "server.key").stat().st_mode & 0o077 == 0
        assert (out / "ca.key").stat().st_uid == 0 and (out / "ca.key").stat().st_mode & 0o077 == 0
    conf = (out / "mosquitto.conf").read_text()
    assert "message_size_limit 65536" in conf and "certfile" in conf
    assert "user root" not in conf  # started as root, it really drops to 'mosquitto'

    broker = _Broker(out / "mosquitto.conf", port)
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
        other_ca = open_dir / "other"
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


def test_client_certificates_are_required_when_issued(open_dir: Path) -> None:
    port, out = free_port(), open_dir / "mq"
    toml = _toml(open_dir / "c.toml", port, out / "ca.crt")
    _broker_config(toml, out, "--client-certs")
    assert {p.name for p in (out / "clients").iterdir()} == {
        "h1.crt",
        "h1.key",
        "services.crt",
        "services.key",
    }
    first = (out / "ca.crt").read_bytes()
    _broker_config(toml, out, "--client-certs")  # idempotent: the CA is kept
    assert (out / "ca.crt").read_bytes() == first
    broker = _Broker(out / "mosquitto.conf", port)
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
