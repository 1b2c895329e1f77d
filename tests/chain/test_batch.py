"""Batch settlement of EIP-712 signed orders by the coordinator."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account.signers.local import LocalAccount

from gridpeer.chain import Match, OrderTerms, SignedOrder, batch_trade_id, cost_wei, errors
from gridpeer.chain.codec import decode_event
from gridpeer.chain.types import decode_batch_header, decode_honoured
from tests.chain.conftest import PRICE, Env, money_in_contract


def _order(e: Env, who: LocalAccount, sell: bool, wh: int, price: int, nonce: int) -> SignedOrder:
    start, end = e.window()
    terms = OrderTerms(who.address, sell, wh, price, start, end, nonce, e.market.now() + 86_400)
    return e.market.sign_order(who, terms)


def _funded(e: Env) -> None:
    for h in e.h:
        e.market.deposit(h, 10**18)


def test_batch_escrows_from_deposits_and_settles_like_any_trade(env: Env) -> None:
    m, co, (s1, s2, b1, b2) = env.market, env.chain.coordinator, env.h
    _funded(env)
    orders = [
        _order(env, s1, True, 500, PRICE, 1),
        _order(env, s2, True, 300, PRICE + 10, 1),
        _order(env, b1, False, 600, PRICE * 2, 1),
        _order(env, b2, False, 200, PRICE * 2, 1),
    ]
    matches = [Match(0, 2, 500, PRICE + 5), Match(1, 2, 100, PRICE + 20), Match(1, 3, 200, PRICE)]
    with pytest.raises(errors.PriceOutOfLimit):  # 3rd match below seller 2's limit
        m.settle_batch(co, orders, matches)
    matches[2] = Match(1, 3, 200, PRICE + 10)
    credit_b1 = m.credit(b1.address)
    batch = m.settle_batch(co, orders, matches)
    tids = [batch_trade_id(batch, i) for i in range(3)]
    trades = [m.trade(t) for t in tids]
    assert [(t.seller, t.buyer, t.wh) for t in trades if t] == [
        (s1.address, b1.address, 500),
        (s2.address, b1.address, 100),
        (s2.address, b2.address, 200),
    ]
    spent = cost_wei(500, PRICE + 5) + cost_wei(100, PRICE + 20)
    assert credit_b1 - m.credit(b1.address) == spent
    assert m.balance() == money_in_contract(env, tids, [])
    created = [ev for ev in m.receipt_events() if type(ev).__name__ == "TradeCreated"]
    assert [ev.trade for ev in created] == trades  # type: ignore[union-attr]
    env.goto(trades[0].start)  # type: ignore[union-attr]
    m.confirm_delivery(env.chain.oracle, tids[1], 60)
    with pytest.raises(errors.AlreadySettled):
        m.confirm_delivery(env.chain.oracle, tids[1], 60)
    with pytest.raises(errors.UnknownId):
        m.confirm_delivery(env.chain.oracle, batch_trade_id(batch, 3), 1)
    with pytest.raises(errors.UnknownId):
        m.confirm_delivery(env.chain.oracle, batch_trade_id(batch + 1, 0), 1)
    env.goto(trades[0].end + m.grace_seconds() + 1)  # type: ignore[union-attr]
    m.reclaim(b1, tids[0])
    assert m.balance() == money_in_contract(env, [tids[2]], [])


@pytest.mark.parametrize("one_price", [True, False])
def test_one_price_and_mixed_batches_store_every_trade_and_settle_each_once(
    env: Env, one_price: bool
) -> None:
    """A one-price batch keeps the price in its header and four 64-bit records per word;
    a mixed one two 128-bit records per word. Nine trades span three (resp. five) words,
    every record reads back, settles once, and settling one leaves its neighbours."""
    m, co, (s1, s2, b1, b2) = env.market, env.chain.coordinator, env.h
    _funded(env)
    orders = [
        _order(env, s1, True, 5000, PRICE, 1),
        _order(env, s2, True, 5000, PRICE, 1),
        _order(env, b1, False, 5000, 3 * PRICE, 1),
        _order(env, b2, False, 5000, 3 * PRICE, 1),
    ]
    n = 9
    prices = [PRICE if one_price else PRICE + 7 * k for k in range(n)]
    matches = [Match(k % 2, 2 + (k // 2) % 2, 100 + k, prices[k]) for k in range(n)]
    batch = m.settle_batch(co, orders, matches)
    assert m.last_receipt is not None
    [(_, raw)] = [
        d
        for log in m.last_receipt.logs
        if (d := decode_event(log.topics, log.data)) and d[0] == "BatchSettled"
    ]
    header = decode_batch_header(raw["header"])
    assert (header.count, header.price) == (n, PRICE if one_price else 0)
    assert len(raw["trades"]) == (3 if one_price else 5)  # records per word: 4 or 2
    tids = [batch_trade_id(batch, k) for k in range(n)]
    want = [
        (orders[x.sell_index].terms.maker, orders[x.buy_index].terms.maker, x.wh, x.price)
        for x in matches
    ]
    trades = [m.trade(t) for t in tids]
    assert [(t.seller, t.buyer, t.wh, t.price) for t in trades if t] == want
    assert m.trade(batch_trade_id(batch, n)) is None
    assert m.balance() == money_in_contract(env, tids, [])
    start = trades[0].start  # type: ignore[union-attr]
    env.goto(start)
    settle = [4, 0, 8, 3]  # middle, first, last, and a neighbour of the middle
    out = m.confirm_batch(env.chain.oracle, [(tids[k], 50) for k in [*settle, 4]])
    assert list(out.confirmed) == [tids[k] for k in settle] and out.skipped == {tids[4]: 1}
    left = [k for k in range(n) if k not in settle]
    assert [m.trade(tids[k]) for k in left] == [trades[k] for k in left]
    assert all(m.trade(tids[k]) is None for k in settle)
    assert m.balance() == money_in_contract(env, [tids[k] for k in left], [])
    env.goto(trades[0].end + m.grace_seconds() + 1)  # type: ignore[union-attr]
    m.reclaim(b1, tids[5])  # trade 5: s2 -> b1
    with pytest.raises(errors.AlreadySettled):
        m.reclaim(b1, tids[5])
    assert m.trade(tids[6]) == trades[6]


def test_replay_double_fill_and_tampering_are_refused(env: Env) -> None:
    m, co, (s, _, b, _) = env.market, env.chain.coordinator, env.h
    _funded(env)
    sell, buy = _order(env, s, True, 100, PRICE, 5), _order(env, b, False, 100, PRICE, 7)
    with pytest.raises(errors.Overfill):
        m.settle_batch(co, [sell, buy], [Match(0, 1, 60, PRICE), Match(0, 1, 41, PRICE)])
    more = dataclasses.replace(buy, terms=dataclasses.replace(buy.terms, wh=1000))
    with pytest.raises(errors.BadSignature):  # coordinator altered the buyer's Wh
        m.settle_batch(co, [sell, more], [Match(0, 1, 100, PRICE)])
    cheap = dataclasses.replace(sell, terms=dataclasses.replace(sell.terms, price=PRICE - 1))
    with pytest.raises(errors.BadSignature):
        m.settle_batch(co, [cheap, buy], [Match(0, 1, 100, PRICE - 1)])
    with pytest.raises(errors.WrongSide):
        m.settle_batch(co, [sell, buy], [Match(1, 0, 100, PRICE)])
    with pytest.raises(errors.WrongRole):
        m.settle_batch(s, [sell, buy], [Match(0, 1, 100, PRICE)])
    m.settle_batch(co, [sell, buy], [Match(0, 1, 100, PRICE)])
    with pytest.raises(errors.NonceUsed):  # replay of the same signed orders
        m.settle_batch(co, [sell, buy], [Match(0, 1, 100, PRICE)])
    assert m.member(s.address)[2] == 5 and m.member(b.address)[2] == 7


def test_batch_refusals(env: Env) -> None:
    m, co, (s, s2, b, _) = env.market, env.chain.coordinator, env.h
    sell, buy = _order(env, s, True, 100, PRICE, 1), _order(env, b, False, 100, PRICE, 1)
    with pytest.raises(errors.InsufficientCredit):  # buyer deposited nothing
        m.settle_batch(co, [sell, buy], [Match(0, 1, 100, PRICE)])
    with pytest.raises(errors.EmptyBatch):
        m.settle_batch(co, [sell, buy], [])
    _funded(env)
    start, end = env.window()
    late = OrderTerms(s2.address, True, 10, PRICE, start, end, 1, m.now() - 1)
    with pytest.raises(errors.OrderExpired):
        m.settle_batch(co, [m.sign_order(s2, late), buy], [Match(0, 1, 10, PRICE)])
    other = OrderTerms(s2.address, True, 10, PRICE, start + 86_400, end + 86_400, 1, end)
    with pytest.raises(errors.WindowMismatch):
        m.settle_batch(co, [buy, m.sign_order(s2, other)], [Match(1, 0, 10, PRICE)])
    with pytest.raises(errors.BadSignature):  # signed by someone else
        forged = m.sign_order(s2, sell.terms)
        m.settle_batch(co, [forged, buy], [Match(0, 1, 10, PRICE)])
    with pytest.raises(errors.ZeroAmount):
        m.settle_batch(co, [sell, buy], [Match(0, 1, 0, PRICE)])
    self_buy = _order(env, s, False, 100, PRICE, 2)
    with pytest.raises(errors.SelfTrade):
        m.settle_batch(co, [sell, self_buy], [Match(0, 1, 10, PRICE)])
    m.remove_member(env.chain.admin, b.address)
    with pytest.raises(errors.NotMember):
        m.settle_batch(co, [sell, buy], [Match(0, 1, 10, PRICE)])


def test_typed_data_is_wallet_ready(env: Env) -> None:
    m, s = env.market, env.h[0]
    start, end = env.window()
    terms = OrderTerms(s.address, True, 1, 1, start, end, 1, end)
    td = m.typed_order(terms)
    assert td["domain"]["verifyingContract"] == m.address
    assert td["domain"]["chainId"] == m.backend.chain_id
    assert td["message"]["wh"] == 1 and td["primaryType"] == "Order"


def _pref_buy(
    e: Env, who: LocalAccount, limit: int, prefs: int, premium: int, partner: int
) -> SignedOrder:
    start, end = e.window()
    terms = OrderTerms(
        who.address,
        False,
        400,
        limit,
        start,
        end,
        1,
        e.market.now() + 86_400,
        prefs,
        premium,
        partner,
    )
    return e.market.sign_order(who, terms)


def test_honoured_preferences_allow_the_premium_and_are_checked(env: Env) -> None:
    m, co, (s1, s2, b1, _) = env.market, env.chain.coordinator, env.h
    _funded(env)
    idx_s1 = m.member(s1.address)[0]
    premium = PRICE // 10
    sells = [_order(env, s1, True, 400, PRICE, 1), _order(env, s2, True, 400, PRICE, 1)]
    # b1 wants energy from s1 (partner) or green, paying up to PRICE + premium for it
    buy = _pref_buy(env, b1, PRICE, 1 | 4, premium, idx_s1)
    orders = [*sells, buy]
    top = PRICE + premium
    with pytest.raises(errors.PriceOutOfLimit):  # the premium is only for honoured matches
        m.settle_batch(co, orders, [Match(0, 2, 100, top)])
    with pytest.raises(errors.BadPreference):  # s2 is not b1's partner
        m.settle_batch(co, orders, [Match(1, 2, 100, top, 1)])
    with pytest.raises(errors.BadPreference):  # b1 did not ask for local energy
        m.settle_batch(co, orders, [Match(0, 2, 100, top, 2)])
    with pytest.raises(errors.PriceOutOfLimit):  # above the limit plus the premium
        m.settle_batch(co, orders, [Match(0, 2, 100, top + 1, 1)])
    with pytest.raises(errors.BadSignature):  # the coordinator dropped b1's preference
        plain = dataclasses.replace(buy.terms, prefs=0, premium=0, partner=0)
        m.settle_batch(co, [*sells, dataclasses.replace(buy, terms=plain)], [Match(0, 2, 1, PRICE)])
    credit = m.credit(b1.address)
    batch = m.settle_batch(
        co, orders, [Match(0, 2, 200, top, 1), Match(1, 2, 100, top, 3), Match(1, 2, 100, PRICE)]
    )
    assert credit - m.credit(b1.address) == cost_wei(300, top) + cost_wei(100, PRICE)
    logs = [decode_event(log.topics, log.data) for log in m.last_receipt.logs]  # type: ignore[union-attr]
    honoured = [f for name, f in (x for x in logs if x) if name == "PreferencesHonoured"]
    assert len(honoured) == 1 and honoured[0]["batchId"] == batch
    assert decode_honoured(honoured[0]["honoured"], 3) == [1, 3, 0]
    # a batch without preferences emits no PreferencesHonoured
    again = [_order(env, s1, True, 100, PRICE, 2), _order(env, b1, False, 100, PRICE, 2)]
    m.settle_batch(co, again, [Match(0, 1, 100, PRICE)])
    names = [x[0] for x in (decode_event(lg.topics, lg.data) for lg in m.last_receipt.logs) if x]  # type: ignore[union-attr]
    assert "PreferencesHonoured" not in names and "BatchSettled" in names
