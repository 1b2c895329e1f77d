"""The demo's oracle in a process of its own (:mod:`gridpeer.runtime.oracle_process`), on
anvil and Mosquitto: it waits for the running model clock, is started again when killed,
then commands, collects and confirms a trade delivered by the agents of this process, and
reports its pass times."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.events import DeliveryConfirmed
from gridpeer.core.clock import Clock
from gridpeer.devices.trace import HouseTrace
from gridpeer.hems.delivery_power import P2PLine, TracePower
from gridpeer.oracle.service import OracleConfig
from gridpeer.oracle.state import TradeState
from gridpeer.runtime.delivery_runtime import DeliveryRuntime
from gridpeer.runtime.oracle_process import OracleProcess
from gridpeer.telemetry.broker import MosquittoBroker

pytestmark = pytest.mark.anvil


def _flat(house: str, pv_w: float, load_w: float) -> HouseTrace:
    z = np.zeros(48)
    start = datetime.fromtimestamp(time.time() - 3600, UTC)
    return HouseTrace(house, start, 300, z + load_w, z + pv_w, z, z, z, z, z, z, z + 230.0)


def test_oracle_process_restarted_after_kill_9_settles_a_trade(
    anvil_url: str, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    chain = open_chain(anvil_url)
    market = chain.deploy_market(grace_s=3600)
    market.set_schedule(chain.admin, Schedule("open"))
    seller, buyer = chain.houses(2, market)
    clock = Clock(start=datetime.fromtimestamp(market.now(), UTC))
    clock.hold()  # as in the demo: the child gets a held copy, then the running clock
    line = P2PLine()
    power = {  # h1: 360 kW surplus (100 Wh/s on a big line); h2 a consumer
        "h1": TracePower(_flat("h1", 361_000.0, 1000.0), line_max_w=400_000.0, line=line),
        "h2": TracePower(_flat("h2", 0.0, 500.0), line_max_w=400_000.0, line=line),
    }
    config = OracleConfig(community="op", lead_s=0.0, result_grace_s=30.0, poll_s=0.2)
    rt = DeliveryRuntime(
        market,
        chain.oracle,
        {seller.address: "h1", buyer.address: "h2"},
        "127.0.0.1",
        mosquitto.port,
        tmp_path,
        clock,
        config,
        power=power,
        oracle_rpc=anvil_url,
    )
    assert isinstance(rt.oracle, OracleProcess)
    rt.start()
    try:
        assert rt.oracle_passes_ms() == []  # no pass before the model clock runs
        clock.release()
        rt.run_oracle(clock)
        # a fault: the oracle process is killed; the demo starts it again on its clock
        first = rt.oracle._proc
        assert first is not None and first.pid is not None
        os.kill(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while rt.oracle.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rt.oracle.restarts == 1 and rt.oracle._proc is not first
        start = market.now() + 8
        oid = market.post_offer(seller, 300, 10**15, start, start + 20)
        tid = market.buy(buyer, oid, 300)
        deadline = time.monotonic() + 60
        conf: list[DeliveryConfirmed] = []
        while time.monotonic() < deadline and not conf:
            time.sleep(0.5)
            if int(clock.timestamp()) > market.now():  # chain time follows the model clock
                market.set_time(int(clock.timestamp()))
            conf = [e for e in market.events(0) if isinstance(e, DeliveryConfirmed)]
        assert [c.trade_id for c in conf] == [tid]
        assert 250 <= conf[0].delivered_wh <= 300  # both meters read the line's counter
        row = rt.oracle.state.trade(tid)  # the child's state, read from this process
        assert row is not None and row.state is TradeState.CONFIRMED
        assert len(rt.oracle_passes_ms()) > 0
    finally:
        rt.stop()
    assert rt.oracle.final is not None and len(rt.oracle.final.passes_ms) > 0
    assert rt.oracle_passes_ms() == rt.oracle.final.passes_ms


def test_oracle_process_that_cannot_start_says_why(anvil_url: str, tmp_path: Path) -> None:
    chain = open_chain(anvil_url)
    market = chain.deploy_market(grace_s=3600)
    rt = DeliveryRuntime(
        market,
        chain.oracle,
        {},
        "127.0.0.1",
        1,
        tmp_path,
        Clock(start=datetime.now(UTC)),
        OracleConfig(community="op", result_grace_s=4000.0),  # longer than the grace
        power={},
        oracle_rpc=anvil_url,
    )
    with pytest.raises(RuntimeError, match="could not start: OracleTimingError"):
        rt.start()
    rt.stop()
