"""Every market function and refusal, on the embedded chain, anvil and pyrevm."""

from __future__ import annotations

import pytest

from gridpeer.chain import cost_wei, errors
from tests.chain.conftest import PRICE, Env, money_in_contract


def test_offer_buy_confirm_pays_delivered_and_refunds_rest(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    start, end = env.window()
    oid = m.post_offer(s, 1000, PRICE, start, end)
    order = m.order(oid)
    assert order is not None and order.remaining_wh == 1000 and order.owner == s.address
    before = m.balance()
    tid = m.buy(b, oid, 1000)
    assert tid == oid  # bought in full: the offer's word became the trade
    assert m.balance() - before == cost_wei(1000, PRICE)
    assert m.credit(s.address) == 0  # nothing paid before delivery
    trade = m.trade(tid)
    assert trade is not None and (trade.seller, trade.buyer) == (s.address, b.address)
    env.goto(start + 60)
    m.confirm_delivery(env.chain.oracle, tid, 700)
    assert m.credit(s.address) == cost_wei(700, PRICE)
    assert m.credit(b.address) == cost_wei(1000, PRICE) - cost_wei(700, PRICE)
    assert m.trade(tid) is None
    assert m.balance() == money_in_contract(env, [], [])
    with pytest.raises(errors.AlreadySettled):
        m.confirm_delivery(env.chain.oracle, tid, 700)


def test_partial_buys_split_trades_and_keep_the_rest(env: Env) -> None:
    m, (s, b, c, _) = env.market, env.h
    start, end = env.window()
    oid = m.post_offer(s, 1000, PRICE, start, end)
    t1 = m.buy(b, oid, 300)
    t2 = m.buy(c, oid, 200)
    assert len({t1, t2, oid}) == 3 and t1 & 3 == 3 and t2 & 3 == 3
    order = m.order(oid)
    assert order is not None and order.remaining_wh == 500 and order.fills == 2
    t3 = m.buy(b, oid, 500)
    assert t3 == oid and m.order(oid) is None
    trades = [m.trade(t) for t in (t1, t2, t3)]
    assert [t.wh for t in trades if t] == [300, 200, 500]
    assert m.balance() == money_in_contract(env, [t1, t2, t3], [])
    env.goto(start + 1)
    m.confirm_delivery(env.chain.oracle, t2, 200)
    with pytest.raises(errors.AlreadySettled):
        m.confirm_delivery(env.chain.oracle, t2, 0)
    with pytest.raises(errors.UnknownId):
        m.confirm_delivery(env.chain.oracle, (t2 & ~(0xFFFF << 2)) | (9 << 2), 0)  # fill 9


def test_request_escrow_fills_and_cancel_conserve_money_exactly(env: Env) -> None:
    m, (s, b, c, _) = env.market, env.h
    start, end = env.window()
    price = 1_500  # wei/kWh: fills do not divide evenly into whole wei
    rid = m.post_request(b, 7, price, start, end)
    assert m.balance() == cost_wei(7, price) == 10
    t1 = m.fill(s, rid, 3)
    t2 = m.fill(c, rid, 1)
    esc = [m.trade(t).escrow for t in (t1, t2)]  # type: ignore[union-attr]
    assert esc == [cost_wei(7, price) - cost_wei(4, price), cost_wei(4, price) - cost_wei(3, price)]
    m.cancel(b, rid)
    assert m.credit(b.address) == cost_wei(3, price)
    assert m.balance() == money_in_contract(env, [t1, t2], [])
    env.goto(start)
    m.confirm_delivery(env.chain.oracle, t1, 3)
    m.confirm_delivery(env.chain.oracle, t2, 0)
    total = sum(m.credit(a) for a in env.members())
    assert total == m.balance() == 10
    with pytest.raises(errors.OrderClosed):
        m.fill(s, rid, 1)


def test_fill_whole_request_and_refusals(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    start, end = env.window()
    rid = m.post_request(b, 100, PRICE, start, end)
    with pytest.raises(errors.SelfTrade):
        m.fill(b, rid, 10)
    with pytest.raises(errors.ExceedsRemaining):
        m.fill(s, rid, 101)
    with pytest.raises(errors.ZeroAmount):
        m.fill(s, rid, 0)
    with pytest.raises(errors.UnknownId):
        m.fill(s, rid + 4, 1)  # next request id: not posted
    with pytest.raises(errors.UnknownId):
        m.fill(s, rid - 1, 1)  # an offer id
    tid = m.fill(s, rid, 100)
    assert tid == rid and m.trade(tid) is not None


def test_post_refusals(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    start, end = env.window()
    outsider = env.chain.oracle
    with pytest.raises(errors.ZeroAmount):
        m.post_offer(s, 0, PRICE, start, end)
    with pytest.raises(errors.ZeroAmount):
        m.post_offer(s, 10, 0, start, end)
    with pytest.raises(errors.AmountOverflow):
        m.post_offer(s, 2**32, PRICE, start, end)
    with pytest.raises(errors.AmountOverflow):
        m.post_offer(s, 10, 2**64, start, end)
    with pytest.raises(errors.NotMember):
        m.post_offer(outsider, 10, PRICE, start, end)
    with pytest.raises(errors.BadWindow):
        m.post_offer(s, 10, PRICE, end, start)
    with pytest.raises(errors.OutsideWindow):
        m.post_offer(s, 10, PRICE, m.now() - 10, m.now() + 3600)
    tx = m.build_tx("post_request", wh=10, price=PRICE, start=start, end=end)
    for value in (tx.value - 1, tx.value + 1):
        with pytest.raises(errors.WrongPayment):
            m.send_tx(b, type(tx)(tx.to, tx.data, value, tx.gas))
    assert m.balance() == 0


def test_buy_refusals_never_keep_money(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    start, end = env.window()
    oid = m.post_offer(s, 100, PRICE, start, end)
    tx = m.build_tx("buy", offer_id=oid, wh=10)
    assert tx.value == cost_wei(10, PRICE)
    bal = m.balance()
    for value in (0, tx.value - 1, tx.value + 1, tx.value * 2):
        with pytest.raises(errors.WrongPayment):
            m.send_tx(b, type(tx)(tx.to, tx.data, value, tx.gas))
    assert m.balance() == bal
    with pytest.raises(errors.SelfTrade):
        m.buy(s, oid, 10)
    with pytest.raises(errors.ExceedsRemaining):
        m.buy(b, oid, 101)
    with pytest.raises(errors.UnknownId):
        m.buy(b, oid + 4, 1, price=PRICE)
    with pytest.raises(errors.NotMember):
        m.buy(env.chain.coordinator, oid, 1)
    m.cancel(s, oid)
    with pytest.raises(errors.OrderClosed):
        m.buy(b, oid, 1, price=PRICE)
    oid2 = m.post_offer(s, 100, PRICE, start, end)
    env.goto(start)
    with pytest.raises(errors.OutsideWindow):
        m.buy(b, oid2, 1)


def test_cancel_refusals(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    start, end = env.window()
    oid = m.post_offer(s, 100, PRICE, start, end)
    with pytest.raises(errors.NotOwner):
        m.cancel(b, oid)
    with pytest.raises(errors.UnknownId):
        m.cancel(s, oid + 4)
    m.cancel(s, oid)
    with pytest.raises(errors.OrderClosed):
        m.cancel(s, oid)
    tid = m.buy(b, m.post_offer(s, 5, PRICE, start, end), 5)
    with pytest.raises(errors.UnknownId):
        m.cancel(s, tid)  # already a trade


def test_confirm_refusals(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    start, end = env.window()
    tid = m.buy(b, m.post_offer(s, 100, PRICE, start, end), 100)
    with pytest.raises(errors.WrongRole):
        m.confirm_delivery(s, tid, 100)
    with pytest.raises(errors.OutsideWindow):
        m.confirm_delivery(env.chain.oracle, tid, 100)  # window not started
    env.goto(start + 1)
    with pytest.raises(errors.DeliveredTooMuch):
        m.confirm_delivery(env.chain.oracle, tid, 101)
    with pytest.raises(errors.UnknownId):
        m.confirm_delivery(env.chain.oracle, tid + 400, 1)
    env.goto(end + m.grace_seconds() + 10)
    with pytest.raises(errors.OutsideWindow):
        m.confirm_delivery(env.chain.oracle, tid, 100)  # too late: buyer may reclaim


def test_reclaim_after_window_and_grace(env: Env) -> None:
    m, (s, b, c, _) = env.market, env.h
    start, end = env.window()
    tid = m.buy(b, m.post_offer(s, 100, PRICE, start, end), 40)
    with pytest.raises(errors.OutsideWindow):
        m.reclaim(b, tid)
    env.goto(end + m.grace_seconds() + 1)
    with pytest.raises(errors.NotOwner):
        m.reclaim(c, tid)
    with pytest.raises(errors.NotOwner):
        m.reclaim(s, tid)
    m.reclaim(b, tid)
    assert m.credit(b.address) == cost_wei(40, PRICE) and m.credit(s.address) == 0
    with pytest.raises(errors.AlreadySettled):
        m.reclaim(b, tid)
    with pytest.raises(errors.AlreadySettled):
        m.confirm_delivery(env.chain.oracle, tid, 40)


def test_withdraw_pays_out_once(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    start, end = env.window()
    tid = m.buy(b, m.post_offer(s, 1000, PRICE, start, end), 1000)
    env.goto(start)
    m.confirm_delivery(env.chain.oracle, tid, 1000)
    wallet = m.backend.balance(s.address)
    amount = m.withdraw(s)
    assert amount == cost_wei(1000, PRICE) and m.balance() == 0
    assert m.last_receipt is not None
    assert m.backend.balance(s.address) - wallet == amount - m.last_receipt.fee_wei
    with pytest.raises(errors.NothingToWithdraw):
        m.withdraw(s)
    with pytest.raises(errors.NotMember):
        m.withdraw(env.chain.oracle)


def test_admin_roles_and_membership(env: Env) -> None:
    m, ch, (s, b, c, d) = env.market, env.chain, env.h
    for call in (
        lambda: m.add_member(s, s.address),
        lambda: m.remove_member(s, b.address),
        lambda: m.propose_role(s, "oracle", s.address),
        lambda: m.propose_role(s, "coordinator", s.address),
        lambda: m.set_grace(s, 1),
        lambda: m.propose_role(s, "admin", s.address),
    ):
        with pytest.raises(errors.WrongRole):
            call()
    with pytest.raises(errors.AlreadyMember):
        m.add_member(ch.admin, s.address)
    with pytest.raises(errors.ZeroAddress):
        m.propose_role(ch.admin, "oracle", "0x" + "00" * 20)
    start, end = env.window(4)  # after the role delay (2 days)
    tid = m.buy(b, m.post_offer(s, 10, PRICE, start, end), 10)
    idx = m.member(d.address)[0]
    m.remove_member(ch.admin, d.address)
    with pytest.raises(errors.NotMember):
        m.remove_member(ch.admin, d.address)
    with pytest.raises(errors.NotMember):
        m.post_offer(d, 10, PRICE, start, end)
    assert m.add_member(ch.admin, d.address) == idx  # re-admitted with the same index
    env.goto(m.propose_role(ch.admin, "oracle", c.address))
    m.execute_role(ch.admin, "oracle")
    env.goto(start)
    with pytest.raises(errors.WrongRole):
        m.confirm_delivery(ch.oracle, tid, 10)
    m.confirm_delivery(c, tid, 10)
    m.set_grace(ch.admin, 60)
    assert m.grace_seconds() == 60
    env.goto(m.propose_role(ch.admin, "admin", b.address))
    m.execute_role(b, "admin")
    assert m.roles()["admin"] == b.address
    with pytest.raises(errors.WrongRole):
        m.set_grace(ch.admin, 1)


def test_removed_member_keeps_credit_and_trades(env: Env) -> None:
    m, ch, (s, b, *_) = env.market, env.chain, env.h
    start, end = env.window()
    tid = m.buy(b, m.post_offer(s, 10, PRICE, start, end), 10)
    m.remove_member(ch.admin, s.address)
    env.goto(start)
    m.confirm_delivery(ch.oracle, tid, 10)
    assert m.withdraw(s) == cost_wei(10, PRICE)


def test_admin_cancels_a_removed_members_orders(env: Env) -> None:
    m, ch, (s, b, *_) = env.market, env.chain, env.h
    start, end = env.window()
    oid = m.post_offer(s, 10, PRICE, start, end)
    rid = m.post_request(s, 10, PRICE, start, end)
    m.remove_member(ch.admin, s.address)
    m.cancel(ch.admin, oid)
    m.cancel(ch.admin, rid)
    with pytest.raises(errors.OrderClosed):
        m.buy(b, oid, 1, price=PRICE)
    assert m.credit(s.address) == cost_wei(10, PRICE)  # the request's escrow, to its owner
    assert m.credit(ch.admin.address) == 0
