"""The delivery agent re-sends a finished trade's stored result when the oracle asks
again, so a result the broker lost still reaches the oracle (real Mosquitto)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress, MqttClient
from gridpeer.hems.delivery_agent import DeliveryAgent
from gridpeer.hems.delivery_power import ConstantPower
from gridpeer.oracle.service import Oracle
from gridpeer.oracle.settings import OracleSettings
from gridpeer.oracle.state import OracleState, TradeState
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import (
    DeliveryCommand,
    DeliveryResult,
    Direction,
    command_topic,
    result_filter,
)
from tests.oracle.fakechain import FakeChain
from tests.services.ports import free_port

pytestmark = pytest.mark.mosquitto
SPEED = 300.0  # model s per wall s


def wait(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Results:
    """A clean-session subscriber that records every delivery result it sees."""

    def __init__(self, address: BrokerAddress, community: str) -> None:
        self.seen: list[DeliveryResult] = []
        self._lock = threading.Lock()
        self.link = MqttClient(
            f"results-{free_port()}",
            address,
            subscriptions=[result_filter(community)],
            on_message=self._on,
            clean_session=True,
        )
        self.link.start()

    def _on(self, topic: str, payload: bytes) -> None:
        if payload:
            with self._lock:
                self.seen.append(DeliveryResult.model_validate_json(payload))

    def count(self, house: str, trade_id: int) -> int:
        with self._lock:
            return sum(1 for r in self.seen if (r.house, r.trade_id) == (house, trade_id))


def test_a_repeated_command_resends_a_done_trade_once_and_never_remeters(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    clock = Clock(start=datetime(2026, 6, 1, 13, tzinfo=UTC), speed=SPEED)
    agent = DeliveryAgent(
        "c1", "h1", "127.0.0.1", mosquitto.port, tmp_path / "h1.db", clock, ConstantPower()
    )
    results = Results(mosquitto.address, "c1")
    oracle = MqttClient("fake-oracle", mosquitto.address)
    try:
        agent.start()
        oracle.start()
        now = clock.now()
        cmd = DeliveryCommand(
            trade_id=3,
            house="h1",
            direction=Direction.OUT,
            target_wh=50,  # 2 kW: 90 model s
            window_start=now + timedelta(seconds=60),
            window_end=now + timedelta(hours=1),
        )
        topic = command_topic("c1", "h1")
        assert oracle.publish(topic, cmd.model_dump_json())
        assert oracle.publish(topic, cmd.model_dump_json())  # a repeat while it runs
        wait(lambda: results.count("h1", 3) == 1, "the result")
        assert agent.republished == 0
        assert oracle.publish(topic, cmd.model_dump_json())  # asked again: result lost
        wait(lambda: results.count("h1", 3) == 2, "the result re-sent")
        assert agent.republished == 1
        first, again = (r for r in results.seen if r.trade_id == 3)
        assert again == first and first.measured_wh == 50  # the stored result, unchanged
        # the agent restarts: the result is still known as sent, and is re-sent if asked
        agent.stop()
        agent = DeliveryAgent(
            "c1", "h1", "127.0.0.1", mosquitto.port, tmp_path / "h1.db", clock, ConstantPower()
        )
        agent.start()
        time.sleep(0.3)  # ticks run: nothing new to send
        assert results.count("h1", 3) == 2
        assert oracle.publish(topic, cmd.model_dump_json())
        wait(lambda: results.count("h1", 3) == 3, "the result re-sent after a restart")
        assert results.seen[-1] == first
    finally:
        oracle.stop()
        results.link.stop()
        agent.stop()


def test_results_lost_by_the_broker_are_resent_when_the_oracle_asks_again(
    tmp_path: Path,
) -> None:
    """Both results reach a broker without persistence, which then restarts before the
    oracle (stopped meanwhile) read them: the oracle asks again after the window and
    settles on both meters, instead of judging both sides silent."""
    broker = MosquittoBroker(free_port(), tmp_path / "mq", persistence=False)
    broker.start()
    clock = Clock(start=datetime(2026, 6, 1, 13, tzinfo=UTC), speed=SPEED)
    chain = FakeChain()
    agents = {
        h: DeliveryAgent(
            "c1", h, "127.0.0.1", broker.port, tmp_path / f"{h}.db", clock, ConstantPower()
        )
        for h in ("h1", "h2")
    }
    settings = OracleSettings(community="c1", result_grace_s=600.0)

    def start_oracle() -> Oracle:
        state = OracleState(f"sqlite:///{tmp_path}/oracle.db")
        o = Oracle(chain, state, "127.0.0.1", broker.port, clock, settings)
        o.start()
        return o

    oracle = start_oracle()
    results: Results | None = None
    try:
        for a in agents.values():
            a.start()
        ws = clock.now() + timedelta(minutes=20)  # 4 wall s ahead: the oracle stops first
        chain.mine([(7, "h1", "h2", 50, ws, ws + timedelta(minutes=2))])
        wait(
            lambda: all(7 in a.executor.tasks for a in agents.values()),
            "both agents commanded",
        )
        oracle.stop()
        results = Results(broker.address, "c1")
        wait(lambda: results.count("h1", 7) + results.count("h2", 7) == 2, "both results")
        results.link.stop()
        broker.restart()  # retained results and the oracle's session are gone
        oracle = start_oracle()
        wait(lambda: (t := oracle.state.trade(7)) is not None and t.state in _FINAL, "settled")
        t = oracle.state.trade(7)
        assert t is not None and t.state is TradeState.CONFIRMED
        assert (t.seller_out_wh, t.buyer_in_wh) == (50, 50)
        assert chain.settled == {7: 50}
        assert agents["h1"].republished == 1 and agents["h2"].republished == 1
    finally:
        oracle.stop()
        for a in agents.values():
            a.stop()
        broker.stop()


_FINAL = (TradeState.CONFIRMED, TradeState.DISPUTED, TradeState.EXPIRED, TradeState.RESOLVED)
