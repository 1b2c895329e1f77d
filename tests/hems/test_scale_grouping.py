"""Big communities share MQTT sessions: sensor nodes and agent hosts by groups of houses,
delivery agents behind a few delivery hosts — through a real Mosquitto, every reading
stored once and every delivery result published, with far fewer sessions and threads."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import MqttClient
from gridpeer.hems.delivery_host import DeliveryHost
from gridpeer.hems.delivery_power import ConstantPower
from gridpeer.hems.monitoring import GROUP_ABOVE, Monitoring, house_groups
from gridpeer.store.factory import open_store
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import (
    DeliveryCommand,
    DeliveryResult,
    Direction,
    command_topic,
    result_topic,
)
from tests.telemetry.traces import make_trace

START = datetime(2026, 6, 1, 10, tzinfo=UTC)


def test_house_groups() -> None:
    few = [f"h{k}" for k in range(GROUP_ABOVE)]
    assert house_groups(few, False) == [[h] for h in few]
    many = [f"h{k}" for k in range(2 * GROUP_ABOVE + 3)]
    groups = house_groups(many, False)
    assert [len(g) for g in groups] == [GROUP_ABOVE, GROUP_ABOVE, 3]
    assert [h for g in groups for h in g] == many
    assert house_groups(many, True) == [[h] for h in many]  # per-house credentials
    big = [f"h{k}" for k in range(1000)]
    assert [len(g) for g in house_groups(big, False)] == [100] * 10  # at most 10 groups


@pytest.mark.mosquitto
async def test_a_big_community_shares_sessions_and_stores_every_reading_once(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/t.db")
    clock = Clock(start=START, speed=60.0)
    n = GROUP_ABOVE + 10
    traces = [make_trace(f"h{k}", START, seed=k, pv=k % 3 != 0, bess=k % 4 == 0) for k in range(n)]
    mon = Monitoring("big", traces, mosquitto.address, store, clock, rate_s=30.0)
    assert len(mon.groups) == 2 and len({id(s) for s in mon.sensors.values()}) == 2

    def ours() -> int:  # threads of MQTT sessions and flushers (not asyncio's executor)
        return sum(not t.name.startswith("asyncio_") for t in threading.enumerate())

    threads_before = ours()
    stop = asyncio.Event()
    task = asyncio.create_task(mon.run(stop))
    while min(mon.published().values()) < 3 and not task.done():
        await asyncio.sleep(0.1)
    threads_running = ours()
    stop.set()
    await asyncio.wait_for(task, 60)
    published = mon.published()
    assert set(published) == {t.house for t in traces}
    assert store.count() == sum(published.values())
    for house, count in published.items():
        assert store.count(house=house) == count > 0
    # two sensor sessions + two agent hosts (each a session and a flusher), not 4 per house
    assert threads_running - threads_before <= 6
    store.close()


@pytest.mark.mosquitto
def test_a_delivery_host_runs_several_houses_on_one_session(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    clock = Clock(start=START, speed=60.0)
    houses = {f"h{k}": ConstantPower(3600.0, 3600.0) for k in range(3)}
    host = DeliveryHost("big", houses, tmp_path / "agents.db", mosquitto.address, clock, 0.02)
    got: dict[str, DeliveryResult] = {}
    lock = threading.Lock()

    def on(topic: str, payload: bytes) -> None:
        r = DeliveryResult.model_validate_json(payload)
        with lock:
            got[f"{r.house}/{r.trade_id}"] = r

    listener = MqttClient(
        "test-listener",
        mosquitto.address,
        subscriptions=["gridpeer/big/+/delivery/result/+"],
        on_message=on,
        clean_session=True,
    )
    listener.start()
    host.start()
    try:
        now = clock.now()
        for k, (house, direction) in enumerate(
            [
                ("h0", Direction.OUT),
                ("h1", Direction.IN),
                ("h2", Direction.IN),
                ("h2", Direction.IN),
            ]
        ):
            cmd = DeliveryCommand(
                trade_id=10 + k,
                house=house,
                direction=direction,
                target_wh=20,
                window_start=now,
                window_end=now + timedelta(minutes=30),
            )
            for _ in range(2):  # a repeated command runs once
                listener.publish(command_topic("big", house), cmd.model_dump_json(), timeout=5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(got) < 4:
            time.sleep(0.1)
    finally:
        host.stop()
        listener.stop()
    assert sorted(got) == ["h0/10", "h1/11", "h2/12", "h2/13"]
    assert all(r.measured_wh == 20 and r.reason == "target" for r in got.values())
    assert sum(len(a.executor.tasks) for a in host.agents.values()) == 4
    again = DeliveryHost("big", houses, tmp_path / "agents.db", mosquitto.address, clock)
    try:  # one file for the group, a table per house: every task back after a restart
        assert {h: sorted(a.executor.tasks) for h, a in again.agents.items()} == {
            "h0": [10],
            "h1": [11],
            "h2": [12, 13],
        }
        assert not any(a.executor.busy() for a in again.agents.values())
    finally:
        again.state.close()
    assert result_topic("big", "h2", 13) == "gridpeer/big/h2/delivery/result/13"
