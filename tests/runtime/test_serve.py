"""``gridpeer serve`` against real parts: Mosquitto with accounts, an anvil node with a
deployed market, SQLite; a sensor's reading published over MQTT shows up in the API."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.anvil import AnvilNode
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
session_secret = "x7Qm2L9vT4sW8nK1pR6yZ3cF0hJ5dG-aB_eU2iO9tVq"
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


def _url(lines: list[str]) -> str:
    """The web app's base URL from serve's "Open http://…/" line (it binds port 0)."""
    m = re.search(r"Open (http://\S+?)/ ", lines[-1])
    assert m is not None, lines
    return m.group(1)


def _start_serve(cfg: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """``gridpeer serve --config cfg``, once it prints its URL; returns it and its lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridpeer.cli", "serve", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Open http" in line:
            return proc, lines
    pytest.fail("serve did not start:\n" + "".join(lines))


def _serve_once(cfg: Path) -> subprocess.CompletedProcess[str]:
    """``gridpeer serve --config cfg`` that is expected to refuse: its exit and output."""
    return subprocess.run(
        [sys.executable, "-m", "gridpeer.cli", "serve", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _publish(port: int, house: str, topic: str, payload: str, retain: bool = False) -> None:
    """Publish once at QoS 1 as ``house`` (its own account), waiting for the broker's ack."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{house}-node")
    client.username_pw_set(house, SENSOR_PW)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_serve_ingests_real_mqtt_and_reads_the_chain(tmp_path: Path, anvil_url: str) -> None:
    broker = MosquittoBroker(
        free_port(), tmp_path / "mq", passwords={"services": SERVICE_PW, "h1": SENSOR_PW}
    )
    broker.start()
    chain = open_chain(anvil_url)
    market = chain.deploy_market()
    cfg = _config(tmp_path, broker.port, anvil_url, market.address, 0)
    proc, lines = _start_serve(cfg)
    base = _url(lines)
    try:
        houses = httpx.get(base + "/api/houses", timeout=10).json()
        assert [(h["id"], h["name"], h["kind"]) for h in houses] == [
            ("h1", "Casa Uno", "pv_bess"),
            ("h2", "House h2", "consumer"),
        ]
        status = httpx.get(base + "/api/market/status", timeout=10).json()
        assert status["contract"] == market.address and status["demo"] is False

        body = {
            "ts": datetime.now(UTC).isoformat(),
            "v": 221.5,
            "i": 2.0,
            "p": 443.0,
            "e_wh": 1234,
            "p_grid": 443.0,
        }
        _publish(broker.port, "h1", "gridpeer/villa/h1/meter/reading", json.dumps(body))
        deadline = time.monotonic() + 30
        totals: dict[str, object] = {}
        while time.monotonic() < deadline:  # community totals are public
            totals = httpx.get(base + "/api/overview", timeout=10).json()["totals"]
            if totals.get("load_w") == 443.0:
                break
            time.sleep(0.3)
        assert totals.get("load_w") == 443.0 and totals.get("grid_w") == 443.0
        r = httpx.get(base + "/api/houses/h1/latest", timeout=10)  # a house's: members only
        assert r.status_code == 401 and "sign in" in r.json()["detail"]
        r = httpx.post(base + "/api/market/withdraw", json={"signer": "demo:h1"}, timeout=10)
        assert r.status_code == 403 and "no demo accounts" in r.text
        # a second serve of the same community would steal the first's MQTT sessions
        second = _serve_once(cfg)
        assert second.returncode == 2, second.stdout + second.stderr
        assert "another gridpeer serve holds" in second.stderr
        assert httpx.get(base + "/api/houses", timeout=10).status_code == 200  # still serving
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
        broker.stop()
    assert rc == 0


def test_serve_refuses_placeholders(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "community.example.toml"
    out = _serve_once(example)
    assert out.returncode == 2 and "placeholder" in out.stderr
    missing = tmp_path / "c.toml"
    missing.write_text('community = "x"\n')
    out = _serve_once(missing)
    assert out.returncode == 2 and "serve needs" in out.stderr and "store_url" in out.stderr


@pytest.fixture
def fresh_anvil() -> Iterator[str]:
    """An anvil of our own whose time is wall time (serve's oracle runs in real time; the
    session's anvil has been moved days ahead by other tests)."""
    with AnvilNode() as node:
        yield node.url


def test_serve_runs_the_oracle_which_commands_and_settles_a_trade(
    tmp_path: Path, fresh_anvil: str
) -> None:
    """With the oracle's key in the config, ``serve`` turns a trade into delivery commands
    for both houses and confirms what their meters report."""
    from gridpeer.chain.accounts import dev_account
    from gridpeer.telemetry.delivery import DeliveryCommand, DeliveryResult, result_topic

    anvil_url = fresh_anvil

    broker = MosquittoBroker(
        free_port(),
        tmp_path / "mq",
        passwords={"services": SERVICE_PW, "h1": SENSOR_PW, "h2": SENSOR_PW},
    )
    broker.start()
    chain = open_chain(anvil_url)
    market = chain.deploy_market()
    market.set_schedule(chain.admin, Schedule("open"))
    seller, buyer = chain.houses(2, market)
    cfg = _config(tmp_path, broker.port, anvil_url, market.address, 0)
    text = cfg.read_text().replace(
        'contract_address = "',
        f'operator_key = "{dev_account("oracle").key.hex()}"\ncontract_address = "',
    )
    text = text.replace('id = "h1"', f'id = "h1"\naddress = "{seller.address}"')
    text = text.replace('id = "h2"', f'id = "h2"\naddress = "{buyer.address}"')
    cfg.write_text(text)

    commands: list[DeliveryCommand] = []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-watch")
    watcher.username_pw_set("services", SERVICE_PW)
    watcher.on_message = lambda c, u, m: commands.append(
        DeliveryCommand.model_validate_json(m.payload)
    )
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe("gridpeer/villa/+/cmd/delivery", qos=1)
    watcher.loop_start()
    proc, lines = _start_serve(cfg)
    base = _url(lines)
    try:
        assert not any("oracle is off" in line for line in lines)
        start = market.now() + 15  # anvil follows wall time; serve runs in real time
        oid = market.post_offer(seller, 400, 150 * 10**12, start, start + 10)
        tid = market.buy(buyer, oid, 300)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(commands) < 2:
            time.sleep(0.2)
        got = sorted((c.house, c.direction.value, c.trade_id, c.target_wh) for c in commands)
        assert got == [("h1", "out", tid, 300), ("h2", "in", tid, 300)]
        # both meters report after the window and agree within the tolerance (5 Wh / 2 %):
        # the oracle confirms the lower, 250 Wh
        time.sleep(max(0.0, start + 11 - time.time()))
        for house, direction, wh in (("h1", "out", 253), ("h2", "in", 250)):
            result = DeliveryResult(
                trade_id=tid,
                house=house,
                direction=direction,  # type: ignore[arg-type]
                measured_wh=wh,
                target_wh=300,
                closed_at=datetime.fromtimestamp(start, UTC),
                opened_at=datetime.fromtimestamp(start + 10, UTC),
                reason="window_end",
            )
            topic = result_topic("villa", house, tid)
            _publish(broker.port, house, topic, result.model_dump_json(), retain=True)
        deadline = time.monotonic() + 60
        trade: dict[str, object] = {}
        while time.monotonic() < deadline:
            trades = httpx.get(base + "/api/market/trades", timeout=10).json()
            trade = next((t for t in trades if t["id"] == str(tid)), {})
            if trade.get("status") == "settled":
                break
            time.sleep(0.5)
        assert trade.get("status") == "settled" and trade.get("delivered_wh") == 250, trade
        assert int(str(trade["seller_paid"])) == 250 * 150 * 10**12 // 1000
    finally:
        watcher.loop_stop()
        watcher.disconnect()
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
        broker.stop()
    assert rc == 0


def test_serve_refuses_a_key_that_is_not_the_markets_oracle(tmp_path: Path, anvil_url: str) -> None:
    from gridpeer.chain.accounts import dev_account

    broker = MosquittoBroker(free_port(), tmp_path / "mq", passwords={"services": SERVICE_PW})
    broker.start()
    chain = open_chain(anvil_url)
    market = chain.deploy_market()
    cfg = _config(tmp_path, broker.port, anvil_url, market.address, free_port())
    wrong = dev_account("h9")
    cfg.write_text(
        cfg.read_text().replace(
            'contract_address = "', f'operator_key = "{wrong.key.hex()}"\ncontract_address = "'
        )
    )
    try:
        out = _serve_once(cfg)
    finally:
        broker.stop()
    assert out.returncode == 2, out.stdout + out.stderr
    assert wrong.address in out.stderr and "market's oracle is" in out.stderr


def test_serve_refuses_oracle_timings_that_cannot_settle_in_time(
    tmp_path: Path, anvil_url: str
) -> None:
    from gridpeer.chain.accounts import dev_account

    broker = MosquittoBroker(free_port(), tmp_path / "mq", passwords={"services": SERVICE_PW})
    broker.start()
    chain = open_chain(anvil_url)
    market = chain.deploy_market(grace_s=900)
    cfg = _config(tmp_path, broker.port, anvil_url, market.address, free_port())
    key = dev_account("oracle").key.hex()
    text = cfg.read_text().replace(
        'contract_address = "', f'operator_key = "{key}"\ncontract_address = "'
    )
    # waiting 1 h for the meters cannot fit in the market's 15-minute grace
    cfg.write_text(text + "\n[oracle]\nresult_grace_s = 3600\n")
    try:
        out = _serve_once(cfg)
    finally:
        broker.stop()
    assert out.returncode == 2, out.stdout + out.stderr
    assert "[oracle]" in out.stderr and "Traceback" not in out.stderr
