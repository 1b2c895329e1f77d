"""Reorg detection against a real anvil: a block the oracle processed is replaced
(evm_revert + new blocks); the oracle rewinds and never acts on the orphaned trade."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gridpeer.chain import Schedule, open_chain
from gridpeer.core.clock import Clock
from gridpeer.oracle.chain_adapter import MarketChainView
from gridpeer.oracle.service import Oracle, OracleConfig
from gridpeer.oracle.state import OracleState

pytestmark = pytest.mark.anvil


def test_replaced_blocks_are_detected_and_orphans_dropped(anvil_url: str, tmp_path: Path) -> None:
    chain = open_chain(anvil_url)
    market = chain.deploy_market(grace_s=900)
    market.set_schedule(chain.admin, Schedule("open"))
    h1, h2 = chain.houses(2, market)
    view = MarketChainView(market, chain.oracle, {h1.address: "h1", h2.address: "h2"})
    clock = Clock(start=datetime.now(UTC))
    cfg = OracleConfig(community="r", confirmations=0, lead_s=0.0, start_block=view.head())
    oracle = Oracle(view, OracleState(f"sqlite:///{tmp_path}/o.db"), "127.0.0.1", 1, clock, cfg)
    w3 = market.backend.w3  # type: ignore[attr-defined]
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    start = market.now() + 600
    oid = market.post_offer(h1, 10, 10**15, start, start + 60)
    orphan = market.buy(h2, oid, 10)
    assert oracle.follow() == 1
    old_head = oracle.state.history()[-1]
    w3.provider.make_request("evm_revert", [snap])
    market.backend._nonces.clear()  # type: ignore[attr-defined]
    for _ in range(4):  # a longer fork without the trade
        w3.provider.make_request("evm_mine", [])
    assert view.block_hash(old_head.number) != old_head.hash
    assert oracle.follow() == 0
    assert oracle.state.trade(orphan) is None
    assert oracle.state.history()[-1].number == view.head()
