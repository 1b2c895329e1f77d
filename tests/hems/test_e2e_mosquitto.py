"""End to end through a real Mosquitto: simulated sensor nodes → broker → home agents →
SQLite. Every message published is stored exactly once, across a broker restart."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import QOS, MqttClient
from gridpeer.hems.host import AgentHost
from gridpeer.hems.monitoring import Monitoring
from gridpeer.store.factory import open_store
from gridpeer.telemetry.broker import MosquittoBroker
from tests.telemetry.traces import make_trace

pytestmark = pytest.mark.mosquitto
START = datetime(2026, 6, 1, 10, tzinfo=UTC)


async def test_five_houses_every_message_stored_once_across_broker_restart(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/t.db")
    clock = Clock(start=START, speed=60.0)  # one simulated minute per wall second
    traces = [make_trace(f"h{k}", START, seed=k, pv=k != 4, bess=k in (0, 2)) for k in range(5)]
    mon = Monitoring("lab", traces, mosquitto.address, store, clock, rate_s=2.0)
    stop = asyncio.Event()
    task = asyncio.create_task(mon.run(stop))
    while sum(mon.published().values()) < 300 and not task.done():
        await asyncio.sleep(0.1)
    await asyncio.to_thread(mosquitto.restart)  # sessions and queued messages persist
    published_at_restart = sum(mon.published().values())
    await asyncio.sleep(4)
    stop.set()
    await asyncio.wait_for(task, 60)

    published = mon.published()
    assert sum(published.values()) > published_at_restart + 100  # kept going after it
    assert store.count() == sum(published.values())
    for house, n in published.items():
        assert store.count(house=house) == n
        m = mon.metrics()[house]
        assert m.stored == n
        assert m.rejected_total == 0
        assert m.accepted == n + m.duplicates
    # devices: meter everywhere, PV on 4 houses, BESS on 2
    assert {(s.house, s.device) for s in store.latest()} == (
        {(f"h{k}", "meter") for k in range(5)}
        | {(f"h{k}", "pv") for k in range(4)}
        | {("h0", "bess"), ("h2", "bess")}
    )
    store.close()


def _publisher(mosquitto: MosquittoBroker) -> MqttClient:
    client = MqttClient("test-raw-publisher", mosquitto.address, clean_session=True)
    client.start()
    return client


def _publish_all(client: MqttClient, messages: list[tuple[str, bytes]]) -> None:
    infos = [client.paho.publish(t, p, qos=QOS) for t, p in messages]
    for info in infos:
        info.wait_for_publish(10)


def test_bad_messages_are_counted_and_never_stored(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/t.db")
    host = AgentHost("lab", ["h1"], mosquitto.address, store, flush_interval_s=0.05)
    host.start()
    pub = _publisher(mosquitto)
    good = json.dumps({"ts": "2026-06-01T12:00:00Z", "v": 300.0, "i": 1.0, "p": 300.0})
    later = good.replace("12:00:00", "12:00:01")
    t = "gridpeer/lab/h1/pv/reading"
    _publish_all(
        pub,
        [
            (t, good.encode()),
            (t, b"\x00\x01garbage"),
            (t, good.replace("300.0,", "-3.0,", 1).encode()),  # v < 0
            (t, b"{" + b" " * 2000 + b"}"),
            ("gridpeer/lab/h1/fridge/reading", good.encode()),
            ("gridpeer/lab/h1/bess/reading", good.encode()),  # no soc
            (t, later.encode()),  # the agent is still alive and storing
        ],
    )
    pub.stop()
    try:
        assert host.wait_stored(2, timeout_s=20)
        for _ in range(400):
            if host.metrics()["h1"].received >= 7:
                break
            time.sleep(0.05)
    finally:
        host.stop()
    m = host.metrics()["h1"]
    assert m.rejected == {"malformed": 2, "out_of_range": 1, "too_large": 1, "bad_topic": 1}
    assert (m.received, m.accepted, m.stored) == (7, 2, 2)
    assert store.count() == 2
    store.close()


def test_agent_restart_receives_what_was_published_while_it_was_away(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/t.db")
    host = AgentHost("lab", ["h1"], mosquitto.address, store, client_id="agent-h1")
    host.start()  # creates the persistent session and its subscription
    host.stop()
    pub = _publisher(mosquitto)
    _publish_all(
        pub,
        [
            (
                "gridpeer/lab/h1/pv/reading",
                json.dumps({"ts": 1780315200 + k, "v": 300.0, "i": 1.0, "p": 300.0}).encode(),
            )
            for k in range(200)
        ],
    )
    pub.stop()
    again = AgentHost("lab", ["h1"], mosquitto.address, store, client_id="agent-h1")
    again.start()
    try:
        assert again.wait_stored(200, timeout_s=20)
    finally:
        again.stop()
    assert store.count() == 200
    store.close()


async def test_monitoring_with_per_house_credentials_and_acl(tmp_path: Path) -> None:
    from gridpeer.telemetry.broker import write_acl
    from tests.services.ports import free_port

    creds = {"h1": ("h1", "secret-1"), "h2": ("h2", "secret-2")}
    acl = tmp_path / "acl"
    write_acl(acl, "lab", {h: pw for h, (_, pw) in creds.items()}, {})
    broker = MosquittoBroker(
        free_port(), tmp_path / "m", passwords=dict(creds.values()), acl_file=acl
    )
    broker.start()
    try:
        store = open_store(f"sqlite:///{tmp_path}/t.db")
        clock = Clock(start=START, speed=60.0)
        traces = [make_trace(h, START, seed=i) for i, h in enumerate(creds)]
        with pytest.raises(ValueError, match="credentials"):
            Monitoring("lab", traces, broker.address, store, clock, credentials={"h1": creds["h1"]})
        mon = Monitoring("lab", traces, broker.address, store, clock, 2.0, credentials=creds)
        stop = asyncio.Event()
        task = asyncio.create_task(mon.run(stop))
        while sum(mon.published().values()) < 60 and not task.done():
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 60)
        assert store.count() == sum(mon.published().values()) >= 60
        assert set(mon.state("h1")) == {"meter", "pv", "bess"}
        assert mon.state("h1")["meter"] == store.latest("h1")[1]  # bess, meter, pv
        store.close()
    finally:
        broker.stop()


class _BrokenStore:
    """A store whose writes always fail (disk full, database down...)."""

    def write(self, samples: object) -> int:
        raise OSError("disk full")

    def close(self) -> None:
        pass


def test_agent_crash_before_its_batch_is_stored_loses_nothing(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    broken = AgentHost(
        "lab",
        ["h1"],
        mosquitto.address,
        _BrokenStore(),
        client_id="agent-h1",  # type: ignore[arg-type]
        flush_interval_s=0.05,
    )
    broken.start()
    pub = _publisher(mosquitto)
    _publish_all(
        pub,
        [
            (
                "gridpeer/lab/h1/meter/reading",
                json.dumps(
                    {"ts": 1780315200 + k, "v": 230.0, "i": 1.0, "p": 230.0, "e_wh": k}
                ).encode(),
            )
            for k in range(300)
        ],
    )
    pub.stop()
    for _ in range(400):
        if broken.metrics()["h1"].accepted >= 300 and broken.write_errors > 0:
            break
        time.sleep(0.05)
    assert broken.metrics()["h1"].accepted == 300 and broken.stored == 0
    # crash: the process dies with its batch unwritten — no flush, no PUBACK, no DISCONNECT
    broken.mqtt.paho.loop_stop()
    sock = broken.mqtt.paho.socket()
    assert sock is not None
    sock.close()
    broken._stopping.set()
    broken._wake.set()

    store = open_store(f"sqlite:///{tmp_path}/t.db")
    again = AgentHost("lab", ["h1"], mosquitto.address, store, client_id="agent-h1")
    again.start()
    try:
        assert again.wait_stored(300, timeout_s=30)
    finally:
        again.stop()
    assert store.count() == 300
    store.close()


@pytest.mark.postgres
async def test_monitoring_into_postgresql(mosquitto: MosquittoBroker, postgres_url: str) -> None:
    store = open_store(postgres_url)
    clock = Clock(start=START, speed=60.0)
    traces = [make_trace(f"h{k}", START, seed=k) for k in range(3)]
    mon = Monitoring("lab", traces, mosquitto.address, store, clock, rate_s=2.0)
    stop = asyncio.Event()
    task = asyncio.create_task(mon.run(stop))
    while sum(mon.published().values()) < 200 and not task.done():
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 60)
    assert store.count() == sum(mon.published().values()) >= 200
    assert store.houses() == ["h0", "h1", "h2"]
    store.close()
