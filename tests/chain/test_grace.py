"""Grace is part of each order and trade: setGrace never changes an open one."""

from __future__ import annotations

import pytest

from gridpeer.chain import MarketClient, Match, OrderTerms, batch_trade_id, errors
from gridpeer.chain.events import TradeCreated
from gridpeer.chain.open import open_chain
from tests.chain.conftest import PRICE, Env

WEEK = 7 * 86_400


def test_set_grace_does_not_change_open_trades_or_orders(env: Env) -> None:
    m, ch, (s, b, *_) = env.market, env.chain, env.h
    start, end = env.window()
    traded = m.buy(b, m.post_offer(s, 10, PRICE, start, end), 10)
    resting = m.post_offer(s, 10, PRICE, start, end)  # posted under grace 3600
    m.set_grace(ch.admin, 60)
    assert m.grace_seconds() == 60
    late = m.buy(b, resting, 10, price=PRICE)  # bought after the change: the offer's grace
    fresh = m.buy(b, m.post_offer(s, 10, PRICE, start, end), 10, price=PRICE)
    created = [ev for ev in m.receipt_events() if isinstance(ev, TradeCreated)]
    assert [ev.trade.grace_s for ev in created] == [60]
    graces = {t: m.trade(t).grace_s for t in (traded, late, fresh)}  # type: ignore[union-attr]
    assert graces == {traded: 3600, late: 3600, fresh: 60}
    env.goto(end + 61)
    with pytest.raises(errors.OutsideWindow):  # the old trade's buyer must still wait
        m.reclaim(b, traded)
    m.reclaim(b, fresh)
    m.confirm_delivery(ch.oracle, traded, 10)  # the oracle still has its hour
    m.set_grace(ch.admin, WEEK)  # a huge grace does not lock the open trade either
    env.goto(end + 3601)
    m.reclaim(b, late)


def test_batch_trades_keep_the_grace_of_their_batch(env: Env) -> None:
    m, ch, (s, b, *_) = env.market, env.chain, env.h
    start, end = env.window()
    m.deposit(b, 10**18)
    exp = m.now() + 86_400
    orders = [
        m.sign_order(s, OrderTerms(s.address, True, 10, PRICE, start, end, 1, exp)),
        m.sign_order(b, OrderTerms(b.address, False, 10, PRICE, start, end, 1, exp)),
    ]
    batch = m.settle_batch(ch.coordinator, orders, [Match(0, 1, 10, PRICE)])
    created = [ev for ev in m.receipt_events() if isinstance(ev, TradeCreated)]
    assert [ev.trade.grace_s for ev in created] == [3600]
    m.set_grace(ch.admin, WEEK)
    tid = batch_trade_id(batch, 0)
    t = m.trade(tid)
    assert t is not None and t.grace_s == 3600 and t.reclaimable_at == end + 3601
    env.goto(end + 3601)
    m.reclaim(b, tid)


def test_grace_is_bounded() -> None:
    ch = open_chain("revm")
    for bad in (0, WEEK + 1):
        with pytest.raises(errors.BadGrace):
            ch.deploy_market(grace_s=bad)
    m: MarketClient = ch.deploy_market(grace_s=1)
    for bad in (0, WEEK + 1, 2**32 - 1):
        with pytest.raises(errors.BadGrace):
            m.set_grace(ch.admin, bad)
    m.set_grace(ch.admin, WEEK)
    assert m.grace_seconds() == WEEK
