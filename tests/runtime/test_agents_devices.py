"""``gridpeer agents`` with real relays at scale: 210 houses' emulated Tasmota and Shelly
relays (a process of their own) behind one agent host through a real Mosquitto. The
houses' device bridges share one MQTT session per group, so the host's threads stay
bounded by groups; every delivery command is metered from its device and reported once,
and every relay is open again after the host stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import MqttClient
from gridpeer.core.settings import load_settings
from gridpeer.runtime.agents import AgentsProcess, descriptors
from gridpeer.store.factory import open_store
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import (
    DeliveryCommand,
    DeliveryResult,
    Direction,
    command_topic,
    result_filter,
)
from tests.runtime.device_farm import device

N = 210
GROUP = 50
TARGET_WH = 2
ROOT = Path(__file__).parents[2]


def wait(cond: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def role(k: int) -> Direction:
    return Direction.OUT if k % 2 else Direction.IN


def _config(tmp: Path, port: int) -> Path:
    accounts = ""
    for k in range(1, N + 1):
        kind, topic = device(k)
        accounts += (
            f'[[accounts]]\nid = "h{k}"\n[[accounts.devices]]\nkind = "{kind}"\n'
            f'topic = "{topic}"\nrole = "{role(k).value}"\n'
        )
    path = tmp / "community.toml"
    path.write_text(
        f'community = "big"\nstore_url = "sqlite:///{tmp}/store.db"\ndata_dir = "{tmp}"\n'
        f'[mqtt]\nembedded = false\nhost = "127.0.0.1"\nport = {port}\n' + accounts
    )
    return path


class Farm:
    """The emulated devices' process."""

    def __init__(self, port: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.runtime.device_farm", str(port), str(N)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def state(self) -> dict[str, list[float]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("state\n")
        self.proc.stdin.flush()
        out: dict[str, list[float]] = json.loads(self.proc.stdout.readline())
        return out

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def farm(mosquitto: MosquittoBroker) -> Iterator[Farm]:
    f = Farm(mosquitto.address.port)
    yield f
    f.stop()


@pytest.mark.mosquitto
def test_210_houses_real_relays_one_host_bounded_threads_each_delivery_once(
    mosquitto: MosquittoBroker, farm: Farm, tmp_path: Path
) -> None:
    settings = load_settings(_config(tmp_path, mosquitto.address.port))
    results: Counter[tuple[str, int]] = Counter()
    last: dict[tuple[str, int], DeliveryResult] = {}
    lock = threading.Lock()

    def on_result(topic: str, payload: bytes) -> None:
        if payload:
            r = DeliveryResult.model_validate_json(payload)
            with lock:
                results[(r.house, r.trade_id)] += 1
                last[(r.house, r.trade_id)] = r

    oracle = MqttClient(
        "test-oracle",
        mosquitto.address,
        subscriptions=[result_filter("big")],
        on_message=on_result,
        clean_session=True,
    )
    oracle.start()
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    houses = [f"h{k}" for k in range(1, N + 1)]
    before = threading.active_count()
    agents = AgentsProcess(settings, houses, store, Clock(), tmp_path / "agents", group_size=GROUP)
    groups = -(-N // GROUP)
    assert len(agents.device_sessions) == groups  # one device session per group
    agents.start()
    try:
        # 5 groups × (ingest 2 + delivery 2 + devices 1) + one relay watchdog: 26
        host_threads = threading.active_count() - before
        assert host_threads == groups * 5 + 1
        assert host_threads <= 64
        assert descriptors(groups, groups, True) < 1024
        now = datetime.now(UTC)
        for k, h in enumerate(houses, start=1):
            cmd = DeliveryCommand(
                trade_id=k,
                house=h,
                direction=role(k),
                target_wh=TARGET_WH,
                window_start=now - timedelta(seconds=1),
                window_end=now + timedelta(minutes=5),
            )
            assert oracle.publish(command_topic("big", h), cmd.model_dump_json())
        wait(lambda: len(results) == N, f"{N} delivery results")
        time.sleep(1.0)  # a second report of any of them would arrive by now
        assert threading.active_count() - before == host_threads  # no thread per house
        energy = {t: wh for t, (_on, wh) in farm.state().items()}
    finally:
        agents.stop()
        store.close()
        oracle.stop()
    with lock:
        assert set(results) == {(h, k) for k, h in enumerate(houses, start=1)}
        assert set(results.values()) == {1}  # every command reported once
        for k, h in enumerate(houses, start=1):
            r = last[(h, k)]
            assert r.reason == "target", r
            assert r.measured_wh == TARGET_WH
            assert energy[device(k)[1]] >= r.measured_wh  # never more than metered
    assert threading.active_count() <= before  # every thread of the host ended
    relays = farm.state()
    assert not [t for t, (on, _wh) in relays.items() if on]  # every relay open again


def test_too_many_groups_for_one_process_are_refused(tmp_path: Path) -> None:
    """The bound is on sessions and state files (paho's select() below descriptor 1024),
    not on houses: the same 210 houses in groups of 50 pass, in groups of 2 they do not."""
    assert descriptors(5, 5, True) == 60 and descriptors(5, 0, False) == 15
    settings = load_settings(_config(tmp_path, 1))
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    houses = [f"h{k}" for k in range(1, N + 1)]
    try:
        ok = AgentsProcess(settings, houses, store, Clock(), tmp_path / "a", group_size=GROUP)
        assert len(ok.device_powers) == N and len(ok.device_sessions) == 5
        with pytest.raises(ValueError, match="file descriptors"):
            AgentsProcess(settings, houses, store, Clock(), tmp_path / "a", group_size=2)
    finally:
        store.close()
