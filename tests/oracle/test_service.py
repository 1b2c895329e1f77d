"""The oracle with a real Mosquitto and in-process agents, on an in-memory chain."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridpeer.core.clock import Clock
from gridpeer.hems.delivery_agent import DeliveryAgent
from gridpeer.hems.delivery_power import ConstantPower
from gridpeer.oracle.service import Oracle, OracleConfig
from gridpeer.oracle.state import OracleState, TradeState
from tests.e2e.procs import Mosquitto
from tests.oracle.fakechain import FakeChain
from tests.services.ports import free_port

pytestmark = pytest.mark.mosquitto
SPEED = 300.0  # model seconds per wall second


def wait_for(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    m = Mosquitto(tmp_path / "mosq", free_port())
    m.start()
    yield m
    m.stop()


class Rig:
    def __init__(
        self,
        tmp: Path,
        broker: Mosquitto,
        powers: dict[str, ConstantPower],
        state_url: str | None = None,
    ) -> None:
        self.tmp, self.broker = tmp, broker
        self.state_url = state_url or f"sqlite:///{tmp}/oracle.db"
        self.clock = Clock(start=datetime(2026, 6, 1, 13, tzinfo=UTC), speed=SPEED)
        self.chain = FakeChain()
        self.agents = {
            h: DeliveryAgent("c1", h, "127.0.0.1", broker.port, tmp / f"{h}.db", self.clock, p)
            for h, p in powers.items()
        }
        self.oracle: Oracle | None = None

    def start_oracle(self, **cfg: float) -> Oracle:
        state = OracleState(self.state_url)
        config = OracleConfig(community="c1", result_grace_s=cfg.pop("grace", 600.0), **cfg)
        self.oracle = Oracle(self.chain, state, "127.0.0.1", self.broker.port, self.clock, config)
        self.oracle.start()
        return self.oracle

    def window(self, start_min: float, dur_min: float) -> tuple[datetime, datetime]:
        s = self.clock.now() + timedelta(minutes=start_min)
        return s, s + timedelta(minutes=dur_min)

    def stop(self) -> None:
        if self.oracle is not None:
            self.oracle.stop()
        for a in self.agents.values():
            a.stop()


def test_trades_are_confirmed_once_or_disputed_when_meters_disagree(
    tmp_path: Path, broker: Mosquitto
) -> None:
    rig = Rig(
        tmp_path,
        broker,
        {
            "h1": ConstantPower(out_w=2000.0),
            "h2": ConstantPower(in_w=3000.0),
            "h3": ConstantPower(out_w=600.0),
        },
    )
    try:
        for a in rig.agents.values():
            a.start()
        oracle = rig.start_oracle()
        ws, we = rig.window(1, 10)
        rig.chain.mine([(1, "h1", "h2", 100, ws, we)])  # reaches its target
        ws2, we2 = rig.window(12, 10)
        # the seller under-delivers (600 W) but the buyer's meter reads its own 3 kW load:
        # the meters disagree, so the trade goes to dispute instead of being paid
        rig.chain.mine([(2, "h3", "h2", 500, ws2, we2)])
        wait_for(
            lambda: (
                len(oracle.state.trades(TradeState.CONFIRMED)) == 1
                and len(oracle.state.trades(TradeState.DISPUTED)) == 1
            ),
            timeout=60,
        )
        assert rig.chain.settled == {1: 100}
        t2 = oracle.state.trade(2)
        assert t2 is not None and t2.state is TradeState.DISPUTED
        assert t2.seller_out_wh is not None and t2.buyer_in_wh is not None
        assert rig.chain.disputed[2] == (t2.seller_out_wh, t2.buyer_in_wh)
        assert 0 < t2.seller_out_wh < 200 < t2.buyer_in_wh  # 600 W vs 3 kW for 10 min
        assert rig.chain.confirm_calls == 1 and rig.chain.dispute_calls == 1
        rig.chain.resolve(2, t2.seller_out_wh)  # the admin decides for the seller's meter
        wait_for(lambda: oracle.state.trade(2).state is TradeState.RESOLVED)  # type: ignore[union-attr]
        assert oracle.rejected == 0
    finally:
        rig.stop()


def test_a_silent_buyer_is_asked_again_then_pays_by_the_sellers_meter(
    tmp_path: Path, broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gridpeer.oracle")
    rig = Rig(tmp_path, broker, {"h1": ConstantPower()})  # buyer h9 has no agent
    try:
        rig.agents["h1"].start()
        oracle = rig.start_oracle(grace=60.0)
        ws, we = rig.window(0.5, 2)
        rig.chain.mine([(7, "h1", "h9", 50, ws, we)])
        wait_for(lambda: (t := oracle.state.trade(7)) is not None and t.state.value == "confirmed")
        assert rig.chain.settled == {7: 50}
        t = oracle.state.trade(7)
        assert t is not None and t.seller_out_wh == 50 and t.buyer_in_wh is None
        assert t.reason is not None and t.reason.startswith("buyer silent")
        asks = [r.getMessage() for r in caplog.records if "asked ['h9'] again" in r.getMessage()]
        assert 1 <= len(asks) <= 3  # asked again (rounds due in the same tick merge)
    finally:
        rig.stop()


def test_reorg_before_confirmations_never_commands_the_orphan(
    tmp_path: Path, broker: Mosquitto
) -> None:
    rig = Rig(tmp_path, broker, {"h1": ConstantPower(), "h2": ConstantPower()})
    try:
        for a in rig.agents.values():
            a.start()
        oracle = rig.start_oracle(confirmations=2)
        ws, we = rig.window(0.5, 5)
        rig.chain.mine([(1, "h1", "h2", 40, ws, we)])
        rig.chain.mine([])
        wait_for(lambda: oracle.state.last_block() == 0 and len(oracle.state.history()) > 0)
        rig.chain.reorg(keep=0)  # trade 1's block vanishes
        rig.chain.mine([(2, "h1", "h2", 30, ws, we)])
        for _ in range(3):
            rig.chain.mine([])
        wait_for(lambda: len(oracle.state.trades(TradeState.CONFIRMED)) == 1)
        assert oracle.state.trade(1) is None
        assert 1 not in rig.agents["h1"].executor.tasks
    finally:
        rig.stop()


def test_agent_and_oracle_links_authenticate(tmp_path: Path) -> None:
    from gridpeer.core.mqtt import BrokerAddress, MqttClient
    from gridpeer.telemetry.broker import MosquittoBroker
    from gridpeer.telemetry.delivery import DeliveryCommand, Direction, command_topic

    broker = MosquittoBroker(free_port(), tmp_path / "mq", passwords={"o": "pw-o", "h1": "pw-1"})
    broker.start()
    clock = Clock(start=datetime(2026, 6, 1, 13, tzinfo=UTC), speed=SPEED)
    agent = DeliveryAgent(
        "c1",
        "h1",
        "127.0.0.1",
        broker.port,
        tmp_path / "h1.db",
        clock,
        ConstantPower(),
        credentials=("h1", "pw-1"),
    )
    address = BrokerAddress("127.0.0.1", broker.port)
    oracle = MqttClient("o", address.as_user("o", "pw-o"))
    anonymous = MqttClient("anon", address)
    try:
        agent.start()
        oracle.start()
        with pytest.raises(ConnectionError, match="refused or unreachable: Not authorized"):
            anonymous.start(timeout_s=1.0)
        assert agent.link.connected.is_set() and oracle.connected.is_set()
        assert not anonymous.connected.is_set()
        cmd = DeliveryCommand(
            trade_id=5,
            house="h1",
            direction=Direction.IN,
            target_wh=10,
            window_start=clock.now(),
            window_end=clock.now() + timedelta(hours=1),
        )
        assert oracle.publish(command_topic("c1", "h1"), cmd.model_dump_json())
        wait_for(lambda: 5 in agent.executor.tasks)
    finally:
        anonymous.stop()
        oracle.stop()
        agent.stop()
        broker.stop()


def test_malformed_messages_are_rejected_and_counted(tmp_path: Path, broker: Mosquitto) -> None:
    from gridpeer.core.mqtt import BrokerAddress, MqttClient
    from gridpeer.telemetry.delivery import command_topic, result_topic

    rig = Rig(tmp_path, broker, {"h1": ConstantPower()})
    pub = MqttClient("evil", BrokerAddress("127.0.0.1", broker.port))
    try:
        rig.agents["h1"].start()
        oracle = rig.start_oracle()
        pub.start()
        for body in (
            b"{",
            b'{"trade_id": -1}',
            b'{"trade_id": 1, "house": "h2", "direction": "in",'
            b' "target_wh": 5, "window_start": 0, "window_end": 10}',
        ):
            assert pub.publish(command_topic("c1", "h1"), body)
            assert pub.publish(result_topic("c1", "h1", 1), body)
        # h1 claims to be h2 on its own topic (its ACL allows only gridpeer/c1/h1/#)
        forged = (
            '{"trade_id": 1, "house": "h2", "direction": "in", "measured_wh": 5, '
            '"target_wh": 5, "closed_at": null, "opened_at": 0, "reason": "target"}'
        )
        assert pub.publish(result_topic("c1", "h1", 1), forged)
        wait_for(lambda: rig.agents["h1"].rejected == 3 and oracle.rejected == 4)
        assert rig.agents["h1"].executor.tasks == {}
        assert oracle.state.trades() == []
    finally:
        pub.stop()
        rig.stop()


def test_a_result_resent_after_settlement_is_cleared_not_stored(
    tmp_path: Path, broker: Mosquitto
) -> None:
    from gridpeer.core.mqtt import BrokerAddress, MqttClient
    from gridpeer.telemetry.delivery import result_topic

    rig = Rig(tmp_path, broker, {"h1": ConstantPower(), "h2": ConstantPower()})
    pub = MqttClient("late-agent", BrokerAddress("127.0.0.1", broker.port))
    try:
        for a in rig.agents.values():
            a.start()
        oracle = rig.start_oracle()
        ws, we = rig.window(0.5, 2)
        rig.chain.mine([(4, "h1", "h2", 40, ws, we)])
        wait_for(lambda: (t := oracle.state.trade(4)) is not None and t.state.value == "confirmed")
        pub.start()
        late = (  # an agent answering a late repeated command, with another figure
            '{"trade_id": 4, "house": "h2", "direction": "in", "measured_wh": 7, '
            '"target_wh": 40, "closed_at": null, "opened_at": "2026-06-01T14:00:00Z", '
            '"reason": "window_end"}'
        )
        assert pub.publish(result_topic("c1", "h2", 4), late, retain=True)

        def retained() -> list[bytes]:
            got: list[bytes] = []
            probe = MqttClient(
                "probe",
                BrokerAddress("127.0.0.1", broker.port),
                subscriptions=[result_topic("c1", "h2", 4)],
                on_message=lambda _t, p: got.append(p),
                clean_session=True,
            )
            probe.start()
            time.sleep(0.3)  # a retained message arrives right after subscribing
            probe.stop()
            return [p for p in got if p]

        wait_for(lambda: not retained())  # the oracle cleared it
        t = oracle.state.trade(4)
        assert t is not None and t.buyer_in_wh == 40 and rig.chain.settled == {4: 40}
    finally:
        pub.stop()
        rig.stop()
