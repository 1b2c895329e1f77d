"""Disputes: the oracle freezes a trade whose meters disagree, the admin settles it."""

from __future__ import annotations

import pytest

from gridpeer.chain import Match, OrderTerms, batch_trade_id, cost_wei, errors
from gridpeer.chain.events import DeliveryConfirmed, DisputeOpened, DisputeResolved
from tests.chain.conftest import PRICE, Env, money_in_contract


def _book_trade(e: Env, wh: int = 1000) -> int:
    s, b = e.h[0], e.h[1]
    start, end = e.window()
    return e.market.buy(b, e.market.post_offer(s, wh, PRICE, start, end), wh, price=PRICE)


def test_oracle_opens_reclaim_refused_admin_resolves_money_conserved(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    tid = _book_trade(env)
    t = m.trade(tid)
    assert t is not None and not t.disputed
    env.goto(t.end + 60)
    m.open_dispute(env.chain.oracle, tid, 900, 400)
    opened = m.receipt_events()[-1]
    assert isinstance(opened, DisputeOpened)
    assert (opened.trade_id, opened.seller_wh, opened.buyer_wh) == (tid, 900, 400)
    disputed = m.trade(tid)
    assert disputed is not None and disputed.disputed and disputed.escrow == t.escrow
    with pytest.raises(errors.Disputed):
        m.open_dispute(env.chain.oracle, tid, 900, 400)
    env.goto(t.end + m.grace_seconds() + 10)  # past the reclaim time
    with pytest.raises(errors.Disputed):
        m.reclaim(b, tid)
    assert m.balance() == money_in_contract(env, [tid], []) == t.escrow
    m.resolve_dispute(env.chain.admin, tid, 600)
    evs = m.receipt_events()
    assert [type(ev) for ev in evs] == [DeliveryConfirmed, DisputeResolved]
    assert evs[1].delivered_wh == 600  # type: ignore[union-attr]
    assert m.credit(s.address) == cost_wei(600, PRICE)
    assert m.credit(b.address) == t.escrow - cost_wei(600, PRICE)
    assert m.balance() == m.credit(s.address) + m.credit(b.address)
    assert m.trade(tid) is None
    with pytest.raises(errors.AlreadySettled):
        m.resolve_dispute(env.chain.admin, tid, 1)
    with pytest.raises(errors.AlreadySettled):
        m.reclaim(b, tid)
    with pytest.raises(errors.AlreadySettled):
        m.confirm_delivery(env.chain.oracle, tid, 1)


def test_only_the_right_roles_and_only_open_trades(env: Env) -> None:
    m, (s, b, c, _) = env.market, env.h
    ch = env.chain
    tid = _book_trade(env)
    t = m.trade(tid)
    assert t is not None
    env.goto(t.start + 60)
    for who in (ch.admin, ch.coordinator, s, b):  # only the oracle opens
        with pytest.raises(errors.WrongRole):
            m.open_dispute(who, tid, 10, 0)
    with pytest.raises(errors.NotDisputed):  # the admin cannot settle an undisputed trade
        m.resolve_dispute(ch.admin, tid, 0)
    with pytest.raises(errors.UnknownId):
        m.open_dispute(ch.oracle, tid + 4, 1, 0)
    m.open_dispute(ch.oracle, tid, 10, 0)
    for who in (ch.oracle, ch.coordinator, s, b, c):  # only the admin resolves
        with pytest.raises(errors.WrongRole):
            m.resolve_dispute(who, tid, 0)
    with pytest.raises(errors.DeliveredTooMuch):
        m.resolve_dispute(ch.admin, tid, t.wh + 1)
    # too late: once the reclaim time has come, the oracle cannot freeze a trade
    late = _book_trade(env, 10)
    lt = m.trade(late)
    assert lt is not None
    env.goto(lt.end + m.grace_seconds() + 1)
    with pytest.raises(errors.OutsideWindow):
        m.open_dispute(ch.oracle, late, 1, 0)
    m.reclaim(b, late)
    with pytest.raises(errors.AlreadySettled):
        m.open_dispute(ch.oracle, late, 1, 0)


def test_oracle_settles_a_disputed_trade_late_from_a_community_meter(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    tid = _book_trade(env)
    t = m.trade(tid)
    assert t is not None
    env.goto(t.end + 1)
    m.open_dispute(env.chain.oracle, tid, 1000, 0)
    env.goto(t.end + m.grace_seconds() + 3600)
    m.confirm_delivery(env.chain.oracle, tid, 1000)
    assert m.credit(s.address) == t.escrow and m.credit(b.address) == 0
    with pytest.raises(errors.AlreadySettled):
        m.resolve_dispute(env.chain.admin, tid, 0)
    # an undisputed trade still closes for the oracle at end + grace
    t2 = _book_trade(env)
    tr2 = m.trade(t2)
    assert tr2 is not None
    env.goto(tr2.end + m.grace_seconds() + 1)
    with pytest.raises(errors.OutsideWindow):
        m.confirm_delivery(env.chain.oracle, t2, 1)


def test_batch_trades_can_be_disputed(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    start, end = env.window()
    m.deposit(b, 10**18)
    exp = m.now() + 86_400
    orders = [
        m.sign_order(s, OrderTerms(s.address, True, 300, PRICE, start, end, 1, exp)),
        m.sign_order(b, OrderTerms(b.address, False, 300, PRICE, start, end, 1, exp)),
    ]
    batch = m.settle_batch(env.chain.coordinator, orders, [Match(0, 1, 100, PRICE)] * 2)
    t0, t1 = batch_trade_id(batch, 0), batch_trade_id(batch, 1)
    env.goto(end + 1)
    m.open_dispute(env.chain.oracle, t1, 100, 50)
    tr0, tr1 = m.trade(t0), m.trade(t1)
    assert tr0 is not None and tr1 is not None and tr1.disputed and not tr0.disputed
    env.goto(end + m.grace_seconds() + 1)
    m.reclaim(b, t0)  # the undisputed neighbour in the same storage word still reclaims
    with pytest.raises(errors.Disputed):
        m.reclaim(b, t1)
    m.resolve_dispute(env.chain.admin, t1, 50)
    assert m.credit(s.address) == cost_wei(50, PRICE)
    assert m.credit(b.address) == 10**18 - cost_wei(50, PRICE)
    assert m.balance() == m.credit(s.address) + m.credit(b.address)
