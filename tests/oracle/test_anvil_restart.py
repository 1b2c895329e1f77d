"""The chain node goes away and comes back (a real anvil, stopped and restarted on the same
port with its state file) right after it mined the oracle's confirmation but before the
oracle heard back: the oracle logs the outage once, resumes by itself, and the trade is
confirmed exactly once (it asks the chain before sending again)."""

from __future__ import annotations

import logging
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gridpeer.chain import Schedule
from gridpeer.chain.anvil import anvil_binary, rpc
from gridpeer.chain.events import DeliveryConfirmed
from gridpeer.chain.open import Chain
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.core.clock import Clock
from gridpeer.oracle.chain_adapter import MarketChainView
from gridpeer.oracle.recovery import Backoff
from gridpeer.oracle.service import Oracle
from gridpeer.oracle.settings import OracleSettings
from gridpeer.oracle.state import OracleState, TradeState
from gridpeer.telemetry.delivery import DeliveryResult, Direction
from tests.oracle.test_properties import FlakyLink
from tests.services.ports import free_port

pytestmark = pytest.mark.anvil


class Node:
    """anvil on a fixed port with a state file that survives a restart."""

    def __init__(self, tmp: Path) -> None:
        self.port, self.state = free_port(), tmp / "anvil-state.json"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--hardfork", "shanghai", "--silent", "--state", str(self.state)]
        cmd += ["--preserve-historical-states"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                rpc(self.url, "eth_chainId")
                return
            except OSError:
                assert time.monotonic() < deadline, "anvil did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # anvil writes its state file on exit
            self.proc.wait(20)
            self.proc = None


def result(trade_id: int, seller: bool, wh: int) -> DeliveryResult:
    return DeliveryResult(
        trade_id=trade_id,
        house="h1" if seller else "h2",
        direction=Direction.OUT if seller else Direction.IN,
        measured_wh=wh,
        target_wh=wh,
        closed_at=None,
        opened_at=datetime.now(UTC),
        reason="target",
    )


def test_anvil_restart_after_the_confirmation_confirms_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gridpeer.oracle")
    node = Node(tmp_path)
    node.start()
    try:
        chain = Chain(Web3Backend.rpc(node.url))
        market = chain.deploy_market(grace_s=600)
        market.set_schedule(chain.admin, Schedule("open"))
        h1, h2 = chain.houses(2, market)
        view = MarketChainView(market, chain.oracle, {h1.address: "h1", h2.address: "h2"})
        cfg = OracleSettings(community="a", lead_s=600.0, result_grace_s=60.0, retry_s=0.0)
        state = OracleState(f"sqlite:///{tmp_path}/o.db")
        oracle = Oracle(view, state, "127.0.0.1", 1, Clock(start=datetime.now(UTC)), cfg)
        oracle.link = FlakyLink()  # type: ignore[assignment]
        oracle._backoff = Backoff(first_s=0.01, max_s=0.05)
        start = market.now() + 2
        tid = market.buy(h2, market.post_offer(h1, 10, 10**15, start, start + 3), 10)
        assert oracle.run_once()
        assert state.trade(tid).grace_s == 600  # type: ignore[union-attr]  # from the event
        while market.now() < start + 1:  # anvil stamps blocks with the wall clock
            time.sleep(0.2)
            rpc(node.url, "evm_mine")
        oracle._results.put(result(tid, True, 10))
        oracle._results.put(result(tid, False, 9))

        real = view.confirm_delivery

        def confirm_then_node_dies(trade_id: int, wh: int) -> str:
            real(trade_id, wh)  # mined ...
            node.stop()  # ... but the node goes away before the oracle hears back
            raise ConnectionError("connection to the node lost")

        view.confirm_delivery = confirm_then_node_dies  # type: ignore[method-assign,assignment]
        assert not oracle.run_once()
        view.confirm_delivery = real  # type: ignore[method-assign]
        assert state.trade(tid).state is TradeState.CONFIRMING  # type: ignore[union-attr]
        for _ in range(10):  # the node is down: every tick fails, one log line
            time.sleep(0.06)
            assert not oracle.run_once()
        node.start()
        deadline = time.monotonic() + 30
        while not oracle.run_once():
            assert time.monotonic() < deadline, "oracle did not resume"
            time.sleep(0.06)
        assert state.trade(tid).state is TradeState.CONFIRMED  # type: ignore[union-attr]
        confirmed = [e for e in market.events(0) if isinstance(e, DeliveryConfirmed)]
        assert [(e.trade_id, e.delivered_wh) for e in confirmed] == [(tid, 9)]
        msgs = [r.getMessage() for r in caplog.records]
        assert sum("chain node unavailable" in m for m in msgs) == 1
        assert sum("chain node back after" in m for m in msgs) == 1
        # the oracle keeps following the restarted node (its block history survived)
        oracle.run_once()
        assert oracle.state.last_block() == view.head()
        state.close()
    finally:
        node.stop()
