"""A randomized community run with random faults (kill -9 of the oracle and of agents,
a broker restart); afterwards the chain's money equals the metered deliveries at trade
prices, every trade is settled exactly once, and nothing is left in escrow."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gridpeer.chain.events import Reclaimed
from gridpeer.oracle.rules import Reading, attribute, payment_wei
from tests.e2e.rig import PRICE, Community, wait_for
from tests.e2e.test_faults import rule_outcomes


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil, pytest.mark.slow]
SEED = 20260601


def test_random_trades_and_faults_conserve_money(tmp_path: Path) -> None:
    rnd = random.Random(SEED)
    n = 6
    powers = {f"h{i + 1}": rnd.choice([3600.0, 7200.0, 36_000.0]) for i in range(n)}
    # grace: an oracle killed twice restarts in seconds, longer on a loaded machine
    com = Community(tmp_path, n, grace_s=20, powers=powers)
    try:
        com.start()
        trades: dict[int, tuple[str, str, int, int]] = {}  # id -> seller, buyer, Wh, end
        starts: dict[int, int] = {}
        for _ in range(12):
            seller, buyer = rnd.sample(sorted(com.houses), 2)
            wh = rnd.randint(5, 60)
            start = com.now() + rnd.randint(6, 14)
            end = start + rnd.randint(4, 8)
            if rnd.random() < 0.5:
                tid = com.trade(seller, buyer, wh, start, end)
            else:
                tid = com.fill(seller, com.request(buyer, wh, start, end), wh)
            trades[tid] = (seller, buyer, wh, end)
            starts[tid] = start
        faults = ["oracle", rnd.choice(sorted(com.houses)), "broker", "oracle"]
        for fault in faults:
            time.sleep(rnd.uniform(1.0, 4.0))
            if fault == "broker":
                com.broker.restart(down_s=rnd.uniform(0.2, 1.5))
            else:
                proc = com.oracle if fault == "oracle" else com.agents[fault]
                proc.kill9()
                time.sleep(rnd.uniform(0.2, 2.0))
                proc.start()
        last_end = max(e for *_, e in trades.values())
        wait_for(lambda: com.now() > last_end + com.grace_s + 1, 90, "all grace periods over")
        # meters that disagree put a trade in dispute: the admin settles it
        resolved = com.resolve_disputes({tid: wh for tid, (_, _, wh, _) in trades.items()})
        for tid, (_, buyer, _, _) in trades.items():
            if com.is_open(tid):  # not settled in time: the buyer takes the escrow back
                com.reclaim(buyer, tid)
        conf = com.confirmations()
        reclaimed = {e.trade_id: e.refund for e in com.market.events(0) if isinstance(e, Reclaimed)}
        assert set(conf) | set(reclaimed) == set(trades) and not set(conf) & set(reclaimed)
        assert len(conf) >= len(trades) // 2, "most trades should be confirmed despite faults"
        readings = [  # what the agents metered, as the oracle's rule sees it
            Reading(
                tid,
                seller,
                buyer,
                (_utc(starts[tid]), _utc(end)),
                wh,
                int(com.agent_rows(seller)[tid][1]),
                int(com.agent_rows(buyer)[tid][1]),
            )
            for tid, (seller, buyer, wh, end) in trades.items()
            if tid not in reclaimed
        ]
        # a buyer (or seller) with several trades in one window is judged by its meter's total
        attributed = attribute(readings)
        expected = dict.fromkeys(com.houses, 0)
        for tid, (seller, buyer, wh, _) in trades.items():
            escrow = payment_wei(wh, PRICE)
            if tid in reclaimed:
                assert reclaimed[tid] == escrow
                expected[buyer] += escrow
                continue
            d, paid, refund = conf[tid]
            out = int(com.agent_rows(seller)[tid][1])
            inn = int(com.agent_rows(buyer)[tid][1])
            assert d <= wh
            s_att, b_att = attributed[tid]
            outcomes = rule_outcomes(wh, out, inn) | rule_outcomes(wh, s_att or 0, b_att or 0)
            assert d == resolved[tid] if tid in resolved else d in outcomes
            assert paid == payment_wei(d, PRICE) and paid + refund == escrow
            expected[seller] += paid
            expected[buyer] += refund
        for house, credit in expected.items():
            assert com.credit(house) == credit, house
        assert com.market.balance() == sum(expected.values())  # no wei left in escrow
    finally:
        com.stop()
