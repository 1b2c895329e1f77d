"""``gridpeer serve`` against real parts: Mosquitto with accounts, an anvil node with a
deployed market, SQLite; a sensor's reading published over MQTT shows up in the API."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from gridpeer.chain import open_chain
from gridpeer.telemetry.broker import MosquittoBroker
from tests.services.ports import free_port

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil]
SERVICE_PW = "svc-pass-7f3a9"
SENSOR_PW = "h1-pass-91bd2"


def _config(tmp: Path, broker_port: int, rpc: str, contract: str, web_port: int) -> Path:
    f = tmp / "community.toml"
    f.write_text(
        f"""community = "villa"
store_url = "sqlite:///{tmp / "gp.db"}"
[web]
port = {web_port}
session_secret = "a-real-secret-for-this-test-9d8e7f"
[mqtt]
embedded = false
port = {broker_port}
username = "services"
password = "{SERVICE_PW}"
[chain]
rpc_url = "{rpc}"
contract_address = "{contract}"
[[accounts]]
id = "h1"
name = "Casa Uno"
kind = "pv_bess"
[[accounts]]
id = "h2"
"""
    )
    return f


def test_serve_ingests_real_mqtt_and_reads_the_chain(tmp_path: Path, anvil_url: str) -> None:
    broker = MosquittoBroker(
        free_port(), tmp_path / "mq", passwords={"services": SERVICE_PW, "h1": SENSOR_PW}
    )
    broker.start()
    chain = open_chain(anvil_url)
    market = chain.deploy_market()
    web_port = free_port()
    cfg = _config(tmp_path, broker.port, anvil_url, market.address, web_port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridpeer.cli", "serve", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{web_port}"
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Open http" in line:
                break
        else:
            pytest.fail("serve did not start")
        houses = httpx.get(base + "/api/houses", timeout=10).json()
        assert [(h["id"], h["name"], h["kind"]) for h in houses] == [
            ("h1", "Casa Uno", "pv_bess"),
            ("h2", "House h2", "consumer"),
        ]
        status = httpx.get(base + "/api/market/status", timeout=10).json()
        assert status["contract"] == market.address and status["demo"] is False

        sensor = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="h1-sensor")
        sensor.username_pw_set("h1", SENSOR_PW)
        sensor.connect("127.0.0.1", broker.port)
        sensor.loop_start()
        body = {
            "ts": datetime.now(UTC).isoformat(),
            "v": 221.5,
            "i": 2.0,
            "p": 443.0,
            "e_wh": 1234,
            "p_grid": 443.0,
        }
        sensor.publish("gridpeer/villa/h1/meter/reading", json.dumps(body), qos=1).wait_for_publish(
            10
        )
        sensor.loop_stop()
        sensor.disconnect()
        deadline = time.monotonic() + 30
        latest: dict[str, object] = {}
        while time.monotonic() < deadline:
            latest = httpx.get(base + "/api/houses/h1/latest", timeout=10).json()
            if latest.get("load_w") == 443.0:
                break
            time.sleep(0.3)
        assert latest.get("load_w") == 443.0 and latest.get("meter_v") == 221.5
        r = httpx.post(base + "/api/market/withdraw", json={"signer": "demo:h1"}, timeout=10)
        assert r.status_code == 403 and "no demo accounts" in r.text
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
        broker.stop()
    assert rc == 0


def test_serve_refuses_placeholders(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "community.example.toml"
    out = subprocess.run(
        [sys.executable, "-m", "gridpeer.cli", "serve", "--config", str(example)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "placeholder" in out.stderr
    missing = tmp_path / "c.toml"
    missing.write_text('community = "x"\n')
    out = subprocess.run(
        [sys.executable, "-m", "gridpeer.cli", "serve", "--config", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "serve needs" in out.stderr and "store_url" in out.stderr
