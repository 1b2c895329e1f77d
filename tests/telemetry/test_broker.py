"""Broker launchers: Mosquitto with per-house credentials and ACLs; embedded amqtt."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import MqttClient
from gridpeer.hems.monitoring import run_monitoring
from gridpeer.store.factory import open_store
from gridpeer.telemetry.broker import (
    BrokerAddress,
    MosquittoBroker,
    start_embedded_broker,
    write_acl,
)
from tests.services.ports import free_port
from tests.telemetry.traces import make_trace


def _collector(address: BrokerAddress, topic: str) -> tuple[MqttClient, list[str]]:
    got: list[str] = []
    sub = MqttClient("collector", address, clean_session=True)
    sub.paho.on_message = lambda c, u, m: got.append(m.topic)
    done = threading.Event()
    sub.paho.on_subscribe = lambda *a: done.set()
    sub.start()
    sub.paho.subscribe(topic, 1)
    assert done.wait(10)
    return sub, got


@pytest.mark.mosquitto
def test_mosquitto_credentials_and_acl(tmp_path: Path) -> None:
    acl = tmp_path / "acl"
    write_acl(acl, "lab", {"h1": "pw-h1", "h2": "pw-h2"}, {"agents": "pw-agents"})
    broker = MosquittoBroker(
        free_port(),
        tmp_path / "m",
        passwords={"h1": "pw-h1", "h2": "pw-h2", "agents": "pw-agents"},
        acl_file=acl,
    )
    with broker:
        base = broker.address
        with pytest.raises(ConnectionError):
            MqttClient("anon", base, clean_session=True).start(timeout_s=3)
        with pytest.raises(ConnectionError):
            MqttClient("bad", base.as_user("h1", "wrong"), clean_session=True).start(3)
        sub, got = _collector(base.as_user("agents", "pw-agents"), "gridpeer/lab/#")
        # h1 writing as h2: denied (Mosquitto 2.0 drops the message and may also cut the
        # connection); wait until the broker has dealt with it either way.
        rogue = MqttClient("h1-rogue", base.as_user("h1", "pw-h1"), clean_session=True)
        rogue.start()
        info = rogue.paho.publish("gridpeer/lab/h2/meter/reading", b"{}", qos=1)
        for _ in range(200):
            if info.is_published() or not rogue.connected.is_set():
                break
            time.sleep(0.05)
        rogue.stop()
        h1 = MqttClient("h1", base.as_user("h1", "pw-h1"), clean_session=True)
        h1.start()
        h1.paho.publish("gridpeer/lab/h1/meter/reading", b"{}", qos=1).wait_for_publish(5)
        h1.stop()
        for _ in range(200):
            if got:
                break
            time.sleep(0.05)
        sub.stop()
    assert got == ["gridpeer/lab/h1/meter/reading"]  # h1 cannot write as h2
    assert not broker.running


def test_embedded_broker_binds_loopback_and_runs_monitoring(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int, dict[str, int]]:
        port = free_port()
        broker = await start_embedded_broker(port)
        try:
            assert broker.address == BrokerAddress("127.0.0.1", port)
            store = open_store(f"sqlite:///{tmp_path}/s.db")
            start = datetime(2026, 6, 1, 12, tzinfo=UTC)
            clock = Clock(start=start, speed=120.0)
            traces = [make_trace(h, start, seed=i) for i, h in enumerate(("a", "b"))]
            stop = asyncio.Event()
            task = asyncio.create_task(
                run_monitoring("demo", traces, broker.address, store, clock, stop, rate_s=2.0)
            )
            await asyncio.sleep(2.0)
            stop.set()
            mon = await asyncio.wait_for(task, 30)
            count = store.count()
            store.close()
            return (
                sum(mon.published().values()),
                count,
                {h: m.stored for h, m in mon.metrics().items()},
            )
        finally:
            await broker.stop()

    before = set(threading.enumerate())
    published, stored, per_house = asyncio.run(scenario())
    assert published > 30
    assert stored == published == sum(per_house.values())
    assert set(threading.enumerate()) <= before  # no thread left behind


def _listen_addresses(port: int) -> set[str]:
    """Local addresses in LISTEN state on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.add(addr)
    return found


def test_embedded_broker_listens_on_loopback_only() -> None:
    async def scenario() -> set[str]:
        port = free_port()
        broker = await start_embedded_broker(port)
        try:
            return _listen_addresses(port)
        finally:
            await broker.stop()

    assert asyncio.run(scenario()) == {"0100007F"}  # 127.0.0.1, nothing else
