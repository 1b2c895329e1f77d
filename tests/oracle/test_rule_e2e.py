"""The settlement rule end to end: real Mosquitto, real anvil with the market contract, the
oracle and the houses' delivery agents as child processes (tests/e2e/rig.py).

Five trades at once: a silent buyer (the seller's meter counts), a silent seller (the
buyer's meter counts), both silent (0 Wh, the buyer refunded), meters that agree within
the tolerance (the lower counts) and meters that disagree beyond it (the trade is
disputed on chain: the buyer cannot reclaim; the admin resolves it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gridpeer.chain.errors import Disputed
from gridpeer.chain.events import DisputeOpened, DisputeResolved
from gridpeer.oracle.rules import payment_wei
from tests.e2e.rig import PRICE, Community, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil]
GRACE_S = 16  # contract grace; the oracle's deadline is 8 s after a window, margin 4 s


def oracle_rows(com: Community) -> dict[int, tuple[str, int | None, int | None, str | None]]:
    """Trade id → (state, seller Wh, buyer Wh, reason) from the oracle's state file."""
    path = com.tmp / "oracle.db"
    if not path.exists():
        return {}
    try:
        with sqlite3.connect(path) as c:
            rows = c.execute(
                "SELECT trade_id, state, seller_out_wh, buyer_in_wh, reason FROM oracle_trades"
            )
            return {int(r[0]): (r[1], r[2], r[3], r[4]) for r in rows}
    except sqlite3.OperationalError:  # the table is not created yet
        return {}


def test_silent_sides_agreement_and_dispute(tmp_path: Path) -> None:
    powers = {"h1": 7200.0, "h4": 36_000.0, "h7": 7200.0, "h8": 7560.0}  # 2, 10, 2, 2.1 Wh/s
    com = Community(tmp_path, 8, grace_s=GRACE_S, powers=powers)
    try:
        com.start()
        for silent in ("h2", "h3", "h5", "h6"):
            com.agents[silent].stop()
        t0 = com.now()
        w1, w2 = (t0 + 6, t0 + 16), (t0 + 18, t0 + 28)
        silent_buyer = com.trade("h1", "h2", 10, *w1)
        silent_seller = com.trade("h3", "h4", 10, *w1)
        both_silent = com.trade("h5", "h6", 10, *w1)
        agree = com.trade("h7", "h8", 100, *w1)  # ~20 vs ~21 Wh: within 5 Wh
        disagree = com.trade("h1", "h4", 40, *w2)  # ~20 vs 40 Wh: beyond
        trades = [silent_buyer, silent_seller, both_silent, agree]
        wait_for(lambda: set(trades) <= set(com.confirmations()), 90, "four trades settled")
        conf = com.confirmations()
        rows = oracle_rows(com)
        assert conf[silent_buyer][0] == 10 == rows[silent_buyer][1]  # the seller's meter
        assert rows[silent_buyer][2] is None
        assert str(rows[silent_buyer][3]).startswith("buyer silent")
        assert conf[silent_seller][0] == 10 == rows[silent_seller][2]  # the buyer's meter
        assert str(rows[silent_seller][3]).startswith("seller silent")
        assert conf[both_silent] == (0, 0, payment_wei(10, PRICE))  # the buyer refunded
        s, b = rows[agree][1], rows[agree][2]
        assert s is not None and b is not None and abs(s - b) <= 5 and 0 < min(s, b) < 100
        assert conf[agree][0] == min(s, b)  # the lower of two agreeing meters
        for tid in trades:
            d, paid, refund = conf[tid]
            assert paid == payment_wei(d, PRICE) and paid + refund == payment_wei(
                10 if tid != agree else 100, PRICE
            )

        wait_for(lambda: oracle_rows(com).get(disagree, ("",))[0] == "disputed", 90, "dispute")
        opened = [e for e in com.market.events(0) if isinstance(e, DisputeOpened)]
        _, s, b, _ = oracle_rows(com)[disagree]
        assert [(e.trade_id, e.seller_wh, e.buyer_wh) for e in opened] == [(disagree, s, b)]
        assert s is not None and b == 40 and s < 30
        wait_for(lambda: com.now() > w2[1] + GRACE_S + 1, 60, "reclaim time")
        with pytest.raises(Disputed):  # a disputed trade cannot be reclaimed
            com.reclaim("h4", disagree)
        assert com.is_open(disagree) and disagree not in com.confirmations()
        com.market.resolve_dispute(com.chain.admin, disagree, s)  # the admin: seller's meter
        resolved = [e for e in com.market.events(0) if isinstance(e, DisputeResolved)]
        assert [(e.trade_id, e.delivered_wh) for e in resolved] == [(disagree, s)]
        assert com.confirmations()[disagree][0] == s
        wait_for(lambda: oracle_rows(com)[disagree][0] == "resolved", 30, "oracle sees it")
        # every trade settled exactly once (confirmations() asserts one event per trade)
        assert set(com.confirmations()) == {*trades, disagree}
        assert com.market.balance() == sum(com.credit(h) for h in com.houses)
    finally:
        com.stop()
