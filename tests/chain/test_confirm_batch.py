"""confirmBatch: the oracle settles many trades in one transaction; a trade that breaks
confirmDelivery's rules is skipped with ConfirmSkipped, never reverting the others."""

from __future__ import annotations

import pytest

from gridpeer.chain import Match, OrderTerms, batch_trade_id, cost_wei, errors
from gridpeer.chain.events import ConfirmSkipped, DeliveryConfirmed
from tests.chain.conftest import PRICE, Env, money_in_contract


def _book_trades(e: Env, n: int, wh: int = 100) -> list[int]:
    s, b = e.h[0], e.h[1]
    start, end = e.window()
    return [
        e.market.buy(b, e.market.post_offer(s, wh, PRICE, start, end), wh, price=PRICE)
        for _ in range(n)
    ]


def test_one_transaction_settles_every_trade_like_confirm_delivery(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    tids = _book_trades(env, 5)
    t = m.trade(tids[0])
    assert t is not None
    env.goto(t.end + 1)
    delivered = [100, 90, 0, 55, 100]
    out = m.confirm_batch(env.chain.oracle, list(zip(tids, delivered, strict=True)))
    assert out.confirmed == tuple(tids) and out.skipped == {}
    evs = m.receipt_events()
    assert [(e.trade_id, e.delivered_wh) for e in evs if isinstance(e, DeliveryConfirmed)] == list(
        zip(tids, delivered, strict=True)
    )
    paid = sum(cost_wei(w, PRICE) for w in delivered)
    assert m.credit(s.address) == paid
    assert m.credit(b.address) == 5 * cost_wei(100, PRICE) - paid
    assert m.balance() == m.credit(s.address) + m.credit(b.address)
    assert all(m.trade(x) is None for x in tids)


def test_bad_trades_are_skipped_with_a_reason_and_the_rest_settle(env: Env) -> None:
    m, (s, b, c, _) = env.market, env.h
    ok1, settled, too_much, ok2 = _book_trades(env, 4)
    start, end = env.window()
    later = m.buy(b, m.post_offer(s, 100, PRICE, start + 86_400, end + 86_400), 100, PRICE)
    m.deposit(b, 10**18)
    exp = m.now() + 86_400
    orders = [
        m.sign_order(c, OrderTerms(c.address, True, 200, PRICE, start, end, 1, exp)),
        m.sign_order(b, OrderTerms(b.address, False, 200, PRICE, start, end, 1, exp)),
    ]
    batch = m.settle_batch(env.chain.coordinator, orders, [Match(0, 1, 100, PRICE)] * 2)
    bt0, bt1 = batch_trade_id(batch, 0), batch_trade_id(batch, 1)
    env.goto(end + 1)
    m.confirm_delivery(env.chain.oracle, settled, 100)
    unknown = batch_trade_id(batch + 7, 0)
    items = [
        (ok1, 100),
        (settled, 100),  # already settled: 1
        (too_much, 101),  # more than contracted: 2
        (later, 100),  # its window has not started: 3
        (unknown, 1),  # never existed: 1
        (bt0, 80),
        (bt0, 80),  # listed twice: settles once
        (ok2, 30),
        (bt1, 100),
    ]
    out = m.confirm_batch(env.chain.oracle, items)
    assert out.confirmed == (ok1, bt0, ok2, bt1)
    assert out.skipped == {settled: 1, too_much: 2, later: 3, unknown: 1, bt0: 1}
    skips = [e for e in m.receipt_events() if isinstance(e, ConfirmSkipped)]
    assert [(e.trade_id, e.reason) for e in skips] == [
        (settled, 1),
        (too_much, 2),
        (later, 3),
        (unknown, 1),
        (bt0, 1),
    ]
    assert m.trade(too_much) is not None and m.trade(later) is not None  # untouched
    assert m.balance() == money_in_contract(env, [too_much, later], [])
    env.goto(end + m.grace_seconds() + 1)  # past the settlement time of every open trade
    out = m.confirm_batch(env.chain.oracle, [(too_much, 100)])
    assert out.confirmed == () and out.skipped == {too_much: 3}
    m.reclaim(b, too_much)
    assert m.balance() == money_in_contract(env, [later], [])


def test_a_disputed_trade_settles_late_in_a_batch(env: Env) -> None:
    m = env.market
    a, d = _book_trades(env, 2)
    t = m.trade(a)
    assert t is not None
    env.goto(t.end + 1)
    m.open_dispute(env.chain.oracle, d, 100, 40)
    env.goto(t.end + m.grace_seconds() + 1)
    out = m.confirm_batch(env.chain.oracle, [(a, 100), (d, 60)])
    assert out.confirmed == (d,) and out.skipped == {a: 3}


def test_only_the_oracle_and_well_formed_batches(env: Env) -> None:
    m, ch = env.market, env.chain
    (tid,) = _book_trades(env, 1)
    for who in (ch.admin, ch.coordinator, env.h[0], env.h[1]):
        with pytest.raises(errors.WrongRole):
            m.confirm_batch(who, [(tid, 1)])
    with pytest.raises(errors.EmptyBatch):
        m.confirm_batch(ch.oracle, [])
    with pytest.raises(errors.LengthMismatch):
        m._send(ch.oracle, "confirmBatch", [tid, tid], [1])
    assert m.trade(tid) is not None
