"""``gridpeer agents`` processes sharing a community through a real Mosquitto and a real
PostgreSQL: one is killed with SIGKILL, its houses go on (on the other member, or when it
is restarted) and every reading published is stored exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.core.mqtt import QOS, MqttClient
from gridpeer.runtime.agents import READY, agents_command, select_houses, shards
from gridpeer.store.factory import open_store
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import DeliveryCommand, command_topic, result_filter

HOUSES = [f"h{k}" for k in range(1, 121)]  # 120 houses: 3 groups of 50 per process


# --- house selection -----------------------------------------------------------------
def test_select_houses_ranges_and_lists() -> None:
    known = [*HOUSES, "lab-a"]
    assert select_houses(None, known) == known
    assert select_houses("h1-h3", known) == ["h1", "h2", "h3"]
    assert select_houses("h118-120,lab-a,h2", known) == ["h2", "h118", "h119", "h120", "lab-a"]
    with pytest.raises(ValueError, match="not in the config"):
        select_houses("x9", known)
    with pytest.raises(ValueError, match="names no configured house"):
        select_houses("h500-h600", known)


@given(st.integers(1, 300), st.integers(1, 20))
def test_shards_cover_every_house_once(n_houses: int, n: int) -> None:
    houses = [f"h{k}" for k in range(n_houses)]
    parts = shards(houses, n)
    assert [h for p in parts for h in p] == houses
    assert all(parts) and len(parts) == min(n, n_houses)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


# --- processes -----------------------------------------------------------------------
def _config(tmp: Path, mosquitto: MosquittoBroker, store_url: str) -> Path:
    accounts = "".join(f'[[accounts]]\nid = "{h}"\n' for h in HOUSES)
    path = tmp / "community.toml"
    path.write_text(
        f'community = "big"\nstore_url = "{store_url}"\ndata_dir = "{tmp}"\n'
        f'[mqtt]\nembedded = false\nhost = "127.0.0.1"\nport = {mosquitto.address.port}\n'
        + accounts
    )
    return path


class Agents:
    """One ``gridpeer agents`` child process."""

    def __init__(self, config: Path, houses: str, *extra: str) -> None:
        self.args = [*agents_command(config, [houses]), "--simulated-meter", *extra]
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert READY in line, line

    def threads(self) -> int:
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def publisher(mosquitto: MosquittoBroker) -> Iterator[MqttClient]:
    client = MqttClient("test-publisher", mosquitto.address, clean_session=True)
    client.start()
    yield client
    client.stop()


T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def _publish(client: MqttClient, rounds: range) -> int:
    """One PV reading per house per round (round r dated T0 + r s); returns how many."""
    infos = []
    for r in rounds:
        ts = (T0 + timedelta(seconds=r)).isoformat().replace("+00:00", "Z")
        payload = json.dumps({"ts": ts, "v": 230.0, "i": 1.0, "p": 230.0}).encode()
        for h in HOUSES:
            infos.append(client.paho.publish(f"gridpeer/big/{h}/pv/reading", payload, qos=QOS))
    for info in infos:
        info.wait_for_publish(30)
    return len(infos)


def _wait_count(store_url: str, at_least: int, timeout_s: float = 60.0) -> int:
    store = open_store(store_url)
    try:
        deadline = time.monotonic() + timeout_s
        while (n := store.count()) < at_least and time.monotonic() < deadline:
            time.sleep(0.2)
        return n
    finally:
        store.close()


def _count(store_url: str) -> int:
    store = open_store(store_url)
    try:
        return store.count()
    finally:
        store.close()


@pytest.mark.mosquitto
def test_shared_subscription_member_killed_others_go_on_nothing_lost_or_doubled(
    mosquitto: MosquittoBroker, postgres_url: str, tmp_path: Path, publisher: MqttClient
) -> None:
    config = _config(tmp_path, mosquitto, postgres_url)
    a = Agents(config, "h1-h60", "--share", "ingest", "--member", "a")
    b = Agents(config, "h61-h120", "--share", "ingest", "--member", "b")
    a.start()
    b.start()
    try:
        # 120 houses ingested by each member (3 groups), deliveries of 60: bounded threads
        assert a.threads() <= 20 and b.threads() <= 20
        first = _publish(publisher, range(0, 10))
        assert _wait_count(postgres_url, first) == first
        a.kill()  # SIGKILL: no flush, no DISCONNECT; its unacked messages stay queued
        second = _publish(publisher, range(10, 20))
        # the surviving member stores its share of the readings of every house at once
        assert _wait_count(postgres_url, first + 1) > first
        a.start()  # the same member name resumes its persistent sessions
        total = first + second
        assert _wait_count(postgres_url, total) == total
        time.sleep(1.0)  # redeliveries still in flight would show up as extra rows
        assert _count(postgres_url) == total  # exactly once (the store key deduplicates)
    finally:
        a.stop()
        b.stop()


@pytest.mark.mosquitto
def test_static_shard_killed_and_restarted_resumes_its_houses_and_deliveries(
    mosquitto: MosquittoBroker, postgres_url: str, tmp_path: Path, publisher: MqttClient
) -> None:
    config = _config(tmp_path, mosquitto, postgres_url)
    a = Agents(config, "h1-h60")
    b = Agents(config, "h61-h120")
    a.start()
    b.start()
    results: list[tuple[str, bytes]] = []
    watcher = MqttClient(
        "test-results",
        mosquitto.address,
        clean_session=True,
        subscriptions=[result_filter("big")],
        on_message=lambda t, p: results.append((t, p)),
    )
    watcher.start()
    try:
        first = _publish(publisher, range(0, 10))
        assert _wait_count(postgres_url, first) == first
        a.kill()
        second = _publish(publisher, range(10, 20))
        # a delivery command for one of the dead process's houses, sent twice (QoS 1 may
        # deliver twice): it must run once when the shard is back
        now = datetime.now(UTC)
        cmd = DeliveryCommand(
            trade_id=7,
            house="h5",
            direction="out",
            target_wh=1,
            window_start=now,
            window_end=now + timedelta(seconds=3),
        )
        for _ in range(2):
            assert publisher.publish(command_topic("big", "h5"), cmd.model_dump_json())
        # b's houses went on; a's wait in the broker until a is back
        assert _wait_count(postgres_url, first + second // 2) >= first + second // 2
        a.start()
        total = first + second
        assert _wait_count(postgres_url, total) == total
        deadline = time.monotonic() + 30
        while not results and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)
        assert len(results) == 1, results  # delivered and reported once
        assert results[0][0].startswith("gridpeer/big/h5/delivery/result/7")
        assert _count(postgres_url) == total
    finally:
        watcher.stop()
        a.stop()
        b.stop()


def test_agents_refuses_unknown_houses(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('community = "x"\nstore_url = "sqlite:///x.db"\n[[accounts]]\nid = "h1"\n')
    out = subprocess.run(
        [sys.executable, "-m", "gridpeer.cli", "agents", "--config", str(config), "--houses", "h9"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert "not in the config" in out.stderr


@pytest.mark.mosquitto
def test_one_process_serves_500_houses_with_bounded_threads(
    mosquitto: MosquittoBroker, postgres_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    accounts = "".join(f'[[accounts]]\nid = "h{k}"\n' for k in range(1, 501))
    config.write_text(
        f'community = "big"\nstore_url = "{postgres_url}"\ndata_dir = "{tmp_path}"\n'
        f"[mqtt]\nembedded = false\nport = {mosquitto.address.port}\n" + accounts
    )
    agents = Agents(config, "h1-h500")
    agents.start()
    try:
        assert agents.threads() <= 64  # 10 ingest + 10 delivery groups, 2 threads each
    finally:
        agents.stop()
    assert agents.proc is not None and agents.proc.returncode == 0


@pytest.mark.mosquitto
def test_serve_hosts_children_restarted_after_kill_store_everything_once(
    mosquitto: MosquittoBroker, postgres_url: str, tmp_path: Path, publisher: MqttClient
) -> None:
    from gridpeer.runtime.agents import AgentProcesses

    config = _config(tmp_path, mosquitto, postgres_url)
    children = AgentProcesses(config, HOUSES, 2)  # what serve --hosts 2 runs
    children.start()
    try:
        assert len(children.procs) == 2
        first = _publish(publisher, range(0, 5))
        assert _wait_count(postgres_url, first) == first
        children.procs[0].kill()  # SIGKILL
        children.procs[0].wait()
        second = _publish(publisher, range(5, 10))
        children.check()  # the supervisor's round: the dead shard is started again
        assert children.restarts == 1
        total = first + second
        assert _wait_count(postgres_url, total) == total
        time.sleep(1.0)
        assert _count(postgres_url) == total
    finally:
        children.stop()
    assert all(p.returncode == 0 for p in children.procs)  # SIGTERM: flushed, clean exit


@pytest.mark.mosquitto
def test_serve_hosts_shared_members_restarted_after_kill_store_everything_once(
    mosquitto: MosquittoBroker, postgres_url: str, tmp_path: Path, publisher: MqttClient
) -> None:
    from gridpeer.runtime.agents import AgentProcesses

    config = _config(tmp_path, mosquitto, postgres_url)
    children = AgentProcesses(config, HOUSES, 2, share="ingest")  # serve --hosts 2 --share
    assert [c[c.index("--member") + 1] for c in children.commands] == ["serve-1", "serve-2"]
    children.start()
    try:
        first = _publish(publisher, range(0, 5))
        assert _wait_count(postgres_url, first) == first
        children.procs[1].kill()  # SIGKILL: its share is queued in its persistent session
        children.procs[1].wait()
        second = _publish(publisher, range(5, 10))
        children.check()  # restarted under the same member name: the queue is delivered
        assert children.restarts == 1
        total = first + second
        assert _wait_count(postgres_url, total) == total
        time.sleep(1.0)
        assert _count(postgres_url) == total
    finally:
        children.stop()
    assert all(p.returncode == 0 for p in children.procs)


@pytest.mark.parametrize("hosts", [None, 0, 3])
def test_serve_composition_ingest_in_serve_in_children_or_nowhere(hosts: int | None) -> None:
    from functools import partial

    from gridpeer.runtime.agents import agent_processes
    from gridpeer.runtime.serve import ingest, serve_composition

    comp = serve_composition(hosts)
    service = dict(comp.services)["ingest"]
    if hosts is None:
        assert service is ingest
    else:
        assert isinstance(service, partial) and service.func is agent_processes
        assert service.keywords == {"n": hosts, "share": None}


def test_agents_share_without_houses_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('community = "x"\nstore_url = "sqlite:///x.db"\n[[accounts]]\nid = "h1"\n')
    out = subprocess.run(
        [sys.executable, "-m", "gridpeer.cli", "agents", "-c", str(config), "--share", "g"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert "--share needs --houses" in out.stderr
