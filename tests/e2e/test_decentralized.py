"""Decentralized market end to end: offer → buy (and request → fill) → delivery window →
relays → metering → confirmation → seller paid for delivered Wh, buyer refunded → withdraw.
Real Mosquitto, real anvil, oracle and agents as separate processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridpeer.oracle.rules import delivered_wh, payment_wei
from tests.e2e.rig import PRICE, Community, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil]


def test_offer_and_request_paths_settle_metered_energy(tmp_path: Path) -> None:
    # h3 pushes only 3.6 kW = 1 Wh/s to h4, whose meter reads the same: under-delivered
    # (meters of one trade must agree within the tolerance, or the trade is disputed)
    com = Community(tmp_path, 4, powers={"h3": 3600.0, "h4": 3600.0})
    try:
        com.start()
        t0 = com.now()
        start, end = t0 + 6, t0 + 11
        full = com.trade("h1", "h2", 20, start, end)  # 10 Wh/s: target reached in ~2 s
        t1 = com.now()
        rid = com.request("h4", 30, t1 + 6, t1 + 11)
        short = com.fill("h3", rid, 30)  # 1 Wh/s for 5 s: about 5 Wh of 30
        wait_for(lambda: len(com.confirmations()) == 2, 60, "both confirmations")
        conf = com.confirmations()
        assert conf[full][0] == 20
        rows3, rows4 = com.agent_rows("h3"), com.agent_rows("h4")
        got = delivered_wh(30, int(rows3[short][1]), int(rows4[short][1]))
        assert conf[short][0] == got and 0 < got < 30
        for tid, wh in ((full, 20), (short, 30)):
            d, paid, refund = conf[tid]
            assert paid == payment_wei(d, PRICE)
            assert paid + refund == payment_wei(wh, PRICE)
        assert com.credit("h2") == 0 and com.credit("h3") == conf[short][1]
        assert com.credit("h4") == conf[short][2]
        h1_credit = conf[full][1]
        assert com.credit("h1") == h1_credit
        assert com.withdraw("h1") == h1_credit
        assert com.credit("h1") == 0
    finally:
        com.stop()
