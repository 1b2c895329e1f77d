"""``kill -9`` of the coordinator process before, during and after ``settleBatch``, on
real anvil, Mosquitto and PostgreSQL: orders come in over MQTT, the killed process is
restarted, and every accepted order ends settled exactly once or dropped with a reason;
money is conserved."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.open import Chain
from gridpeer.chain.types import OrderTerms, Schedule
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.coordinator.mqtt_intake import ack_topic, orders_topic
from gridpeer.coordinator.wire import signature_hex, terms_json
from gridpeer.core.mqtt import MqttClient
from gridpeer.store.factory import open_store
from gridpeer.telemetry.broker import MosquittoBroker
from tests.coordinator.invariants import check

pytestmark = [pytest.mark.anvil, pytest.mark.mosquitto, pytest.mark.postgres]

PRICE = 10**15
ROOT = Path(__file__).resolve().parents[2]


def wait_for(cond: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout} s")


class Rig:
    def __init__(
        self, tmp: Path, anvil_url: str, broker: MosquittoBroker, pg: str, design: str
    ) -> None:
        self.tmp, self.pg = tmp, pg
        self.chain = Chain(Web3Backend.rpc(anvil_url))
        self.market = self.chain.deploy_market(60)
        self.market.set_schedule(self.chain.admin, Schedule("open"))
        keys = self.chain.houses(5, self.market)  # dev houses h1..h5 (also used elsewhere)
        self.keys = {f"h{i + 1}": k for i, k in enumerate(keys)}
        addr = broker.address
        accounts = "\n".join(
            f'[[accounts]]\nid = "{h}"\naddress = "{k.address}"\n' for h, k in self.keys.items()
        )
        self.config = tmp / "community.toml"
        self.config.write_text(
            f'community = "crash"\nstore_url = "{pg}"\n'
            f'[chain]\nrpc_url = "{anvil_url}"\ncontract_address = "{self.market.address}"\n'
            f'[mqtt]\nembedded = false\nhost = "{addr.host}"\nport = {addr.port}\n'
            f'[market]\ndesign = "{design}"\ngate_s = 20\n' + accounts
        )
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "GRIDPEER_CHAIN__COORDINATOR_KEY": "0x" + self.chain.coordinator.key.hex(),
        }
        self.acks: dict[str, list[dict[str, object]]] = {}
        self.got = threading.Condition()
        self.client = MqttClient(
            "crash-test-houses",
            addr,
            subscriptions=[ack_topic("crash", "+")],
            on_message=self._ack,
            clean_session=True,
        )
        self.client.start()
        self.child: subprocess.Popen[bytes] | None = None

    def _ack(self, topic: str, payload: bytes) -> None:
        house = topic.split("/")[-2]
        with self.got:
            self.acks.setdefault(house, []).append(json.loads(payload))
            self.got.notify_all()

    def spawn(self, *args: str) -> None:
        path = self.tmp / f"child-{time.monotonic_ns()}.log"
        log = open(path, "wb")  # noqa: SIM115
        self.child = subprocess.Popen(
            [sys.executable, "-m", "tests.coordinator.crash_child", str(self.config), *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: b"running" in path.read_bytes(), 60, "the coordinator started")

    def submit(
        self, house: str, sell: bool, wh: int, price: int, nonce: int, w: tuple[int, int]
    ) -> str:
        key = self.keys[house]
        terms = OrderTerms(key.address, sell, wh, price, w[0], w[1], nonce, w[0])
        body = {
            "order": terms_json(terms),
            "signature": signature_hex(self.market.sign_order(key, terms)),
        }
        n = len(self.acks.get(house, []))
        self.client.publish(orders_topic("crash", house), json.dumps(body))
        with self.got:
            assert self.got.wait_for(lambda: len(self.acks.get(house, [])) > n, 30), "no ack"
            ack = self.acks[house][n]
        assert ack.get("state") == "accepted", ack
        return str(ack["id"])

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            self.child.wait(30)
        self.client.stop()


@pytest.fixture
def rig(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    postgres_url: str,
) -> Iterator[Rig]:
    # an anvil of its own: the coordinator's clock is wall time, and the session's anvil
    # may have been moved hours ahead by earlier tests (its windows were then never due)
    node = AnvilNode(log=tmp_path / "anvil.log")
    node.start()
    try:
        r = Rig(tmp_path, node.url, mosquitto, postgres_url, request.param)
        yield r
        r.stop()
    finally:
        node.stop()


@pytest.mark.parametrize(
    ("rig", "point"),
    [
        ("centralized", "before"),
        ("centralized", "during"),
        ("centralized", "after"),
        ("hybrid", "during"),
    ],
    indirect=["rig"],
)
def test_kill_9_at_any_point_of_a_batch_loses_and_doubles_nothing(rig: Rig, point: str) -> None:
    rig.spawn(point, str(rig.tmp / "marker"))
    for b in ("h3", "h4"):
        rig.market.deposit(rig.keys[b], 10**17)
    now = max(rig.market.now(), int(time.time()))  # the coordinator's clock
    w = (now + 45, now + 60)  # gate 20 s before: time to restart before the window
    nonce = {h: rig.market.member(k.address)[2] + 1 for h, k in rig.keys.items()}
    ids = {
        rig.submit("h1", True, 30, PRICE, nonce["h1"], w),
        rig.submit("h2", True, 20, 2 * PRICE, nonce["h2"], w),
        rig.submit("h3", False, 25, 3 * PRICE, nonce["h3"], w),
        rig.submit("h4", False, 15, 3 * PRICE, nonce["h4"], w),
        rig.submit("h5", True, 10, 9 * PRICE, nonce["h5"], w),  # too dear: dropped
    }
    marker = rig.tmp / "marker"
    wait_for(marker.exists, 60, f"the coordinator frozen {point} settleBatch")
    assert rig.child is not None
    rig.child.send_signal(signal.SIGKILL)
    rig.child.wait(10)
    store = open_store(rig.pg)
    try:
        assert ids <= {o.id for o in store.orders()}  # accepted = stored
        rig.spawn()  # the restart
        open_states = ("accepted", "matched")
        wait_for(lambda: not store.orders(states=open_states), 60, "orders settled or dropped")
        check(rig.market, store, ids)
        mined = store.batches(states=["mined"])
        assert len(mined) == 1 and mined[0].volume_wh == 40
        [dropped] = store.orders(states=["dropped"])
        assert dropped.reason == "no matching order at gate closure"
    finally:
        store.close()
