"""A node that went back (a reorg, or restarted from a state saved before the oracle's
last transactions) may have lost confirmations and disputes the oracle saw mined: the
oracle puts them back to be sent again, while the trade can still be settled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gridpeer.core.clock import Clock
from gridpeer.oracle.service import Oracle, OracleConfig
from gridpeer.oracle.state import OracleState, TradeState
from tests.oracle.fakechain import FakeChain

NOW = datetime(2026, 6, 1, 13, tzinfo=UTC)


def _oracle(tmp: Path) -> tuple[Oracle, FakeChain]:
    chain = FakeChain(grace_s=3600)
    state = OracleState(f"sqlite:///{tmp}/oracle.db")
    clock = Clock(start=NOW, speed=1.0)
    return Oracle(chain, state, "127.0.0.1", 1, clock, OracleConfig(community="c1")), chain


def test_lost_settlements_are_sent_again_while_they_can_be(tmp_path: Path) -> None:
    oracle, chain = _oracle(tmp_path)
    recent = (NOW - timedelta(minutes=30), NOW - timedelta(minutes=15))
    old = (NOW - timedelta(hours=3), NOW - timedelta(hours=2))  # past the 1 h grace
    chain.mine([(t, "h1", "h2", 10 * t, *(old if t == 3 else recent)) for t in (1, 2, 3, 4, 5)])
    oracle.follow()
    for tid in (1, 2, 3):
        oracle.state.set_state(tid, TradeState.CONFIRMED, delivered_wh=10 * tid)
    for tid in (4, 5):
        oracle.state.set_state(tid, TradeState.DISPUTED)
    chain.settled = {1: 10}  # 2 and 3 lost their confirmations on chain
    chain.disputed = {5: (50, 0)}  # 4 lost its dispute

    assert oracle.reopen_lost_confirmations() == 2
    state = {t.trade_id: t.state for t in oracle.state.trades()}
    assert state == {
        1: TradeState.CONFIRMED,  # still on chain
        2: TradeState.CONFIRMING,  # sent again on the next settle step
        3: TradeState.CONFIRMED,  # past its grace: the buyer may reclaim, nothing to send
        4: TradeState.DISPUTING,
        5: TradeState.DISPUTED,
    }
    row = oracle.state.trade(2)
    assert row is not None and row.delivered_wh == 20  # the decided Wh are kept
    assert oracle.reopen_lost_confirmations() == 0  # nothing more to do


def test_a_rewind_makes_the_follower_check_again(tmp_path: Path) -> None:
    oracle, chain = _oracle(tmp_path)
    window = (NOW - timedelta(minutes=30), NOW - timedelta(minutes=15))
    chain.mine([(1, "h1", "h2", 10, *window)])
    oracle.follow()  # the first follow checks once (start)
    oracle.state.set_state(1, TradeState.CONFIRMED, delivered_wh=10)
    chain.settled = {1: 10}
    chain.mine([])
    chain.mine([])
    oracle.follow()
    assert oracle.state.trade(1).state is TradeState.CONFIRMED  # type: ignore[union-attr]
    chain.reorg(keep=1)  # the blocks after the trade are replaced: its confirmation too
    chain.settled.clear()
    chain.mine([])
    chain.mine([])
    chain.mine([])
    oracle.follow()
    assert oracle.state.trade(1).state is TradeState.CONFIRMING  # type: ignore[union-attr]
