"""Faults that must be survived, with real processes: kill -9 of the oracle or an agent
mid-delivery, a broker restart mid-window, a house offline during its window."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gridpeer.oracle.rules import Action, payment_wei, settle
from tests.e2e.rig import PRICE, Community, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil]


def rule_outcomes(wh: int, out: int, inn: int) -> set[int]:
    """Wh the settlement rule may confirm for these readings, whichever side was silent
    at the deadline (an agent that was down may report after it)."""
    verdicts = [settle(wh, s, b, True) for s in (out, None) for b in (inn, None)]
    return {v.delivered_wh for v in verdicts if v.action is Action.CONFIRM}


def settled_or_disputed(com: Community, n: int) -> bool:
    return len(set(com.confirmations()) | set(com.disputes())) == n


def assert_conserved(
    com: Community, trades: dict[int, tuple[str, str, int]], resolved: dict[int, int]
) -> None:
    """Every trade settled once; paid + refund = escrow; credits = sums of settlements;
    confirmed Wh = the settlement rule on the agents' metered Wh, or what the admin
    resolved a dispute for."""
    conf = com.confirmations()
    expected = {h: 0 for h in com.houses}
    for tid, (seller, buyer, wh) in trades.items():
        d, paid, refund = conf[tid]
        out = int(com.agent_rows(seller)[tid][1])
        inn = int(com.agent_rows(buyer)[tid][1])
        if tid in resolved:
            assert d == resolved[tid]
        else:
            assert d in rule_outcomes(wh, out, inn)
        assert paid == payment_wei(d, PRICE) and paid + refund == payment_wei(wh, PRICE)
        expected[seller] += paid
        expected[buyer] += refund
    for h, credit in expected.items():
        assert com.credit(h) == credit, h


def closed(com: Community, house: str, tid: int) -> bool:
    return com.agent_rows(house).get(tid, ("", 0.0))[0] == "closed"


def test_kill9_oracle_and_agent_mid_delivery(tmp_path: Path) -> None:
    com = Community(tmp_path, 4, powers={h: 7200.0 for h in ("h1", "h2", "h3", "h4")})  # 2 Wh/s
    try:
        com.start()
        t0 = com.now()
        a = com.trade("h1", "h2", 40, t0 + 6, t0 + 18)
        b = com.trade("h3", "h4", 40, t0 + 6, t0 + 18)
        wait_for(lambda: closed(com, "h1", a) and closed(com, "h3", b), 40, "relays closed")
        com.oracle.kill9()
        com.agents["h3"].kill9()  # seller of b dies with its relay closed
        time.sleep(2.0)
        com.agents["h3"].start()
        com.oracle.start()
        # the seller of b metered less than its buyer (its agent was down): depending on
        # how long, the meters agree or the trade goes to dispute, which the admin resolves
        wait_for(lambda: settled_or_disputed(com, 2), 60, "both trades settled or disputed")
        resolved = com.resolve_disputes({a: 40, b: 40})
        assert a not in resolved
        assert_conserved(com, {a: ("h1", "h2", 40), b: ("h3", "h4", 40)}, resolved)
        # h3 meters at most 2 Wh/s over a 12 s window, minus the seconds it was down
        assert com.agent_rows("h3")[b][1] < 24
    finally:
        com.stop()


def test_broker_restart_mid_window_loses_nothing(tmp_path: Path) -> None:
    com = Community(tmp_path, 2, powers={"h1": 3600.0, "h2": 3600.0})  # 1 Wh/s
    try:
        com.start()
        t0 = com.now()
        a = com.trade("h1", "h2", 6, t0 + 5, t0 + 14)
        wait_for(lambda: closed(com, "h1", a), 40, "relay closed")
        com.broker.restart(down_s=1.0)
        # a trade mined while the agents reconnect: its commands must still arrive
        t1 = com.now()
        b = com.trade("h2", "h1", 5, t1 + 5, t1 + 12)
        wait_for(lambda: len(com.confirmations()) == 2, 60, "both trades confirmed")
        assert_conserved(com, {a: ("h1", "h2", 6), b: ("h2", "h1", 5)}, {})
        assert com.confirmations()[a][0] == 6
    finally:
        com.stop()


def test_offline_buyer_pays_by_the_sellers_meter(tmp_path: Path) -> None:
    com = Community(tmp_path, 2, grace_s=4)
    try:
        com.start()
        com.agents["h2"].stop()  # the buyer's agent is offline: it cannot veto payment
        t0 = com.now()
        tid = com.trade("h1", "h2", 10, t0 + 5, t0 + 8)
        escrow = payment_wei(10, PRICE)
        wait_for(lambda: tid in com.confirmations(), 30, "confirmed by the seller's meter")
        assert com.confirmations()[tid] == (10, escrow, 0)
        assert not com.is_open(tid)  # nothing left to reclaim
        assert com.credit("h1") == escrow and com.credit("h2") == 0
        assert com.withdraw("h1") == escrow
    finally:
        com.stop()
