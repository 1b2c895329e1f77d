"""Centralized and hybrid coordinator on the in-process chain (pyrevm): signed orders,
clearing, batch settlement, and a coordinator that cannot forge or alter orders."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account.signers.local import LocalAccount

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.errors import ContractRevert
from gridpeer.chain.types import Match as ChainMatch
from gridpeer.chain.types import OrderTerms, SignedOrder
from gridpeer.coordinator.service import Coordinator, OrderRejected

PRICE = 10**15
T_NOW = 1_800_000_000


class Env:
    def __init__(self, mode: str) -> None:
        self.chain = open_chain("revm", genesis_time=T_NOW)
        self.market = self.chain.deploy_market(grace_s=3600)
        self.market.set_schedule(self.chain.admin, Schedule("open"))
        self.h = self.chain.houses(4, self.market)
        self.names: dict[str, str] = {k.address: f"h{i + 1}" for i, k in enumerate(self.h)}
        self.clock = T_NOW + 10
        self.coord = Coordinator(
            self.market,
            self.chain.coordinator,
            self.names,
            mode,  # type: ignore[arg-type]
            now=lambda: self.clock,
        )
        self.start, self.end = T_NOW + 3600, T_NOW + 7200
        self.nonce = {k.address: 0 for k in self.h}

    def order(self, who: LocalAccount, sell: bool, wh: int, price: int) -> SignedOrder:
        self.nonce[who.address] += 1
        terms = OrderTerms(
            who.address, sell, wh, price, self.start, self.end, self.nonce[who.address], self.start
        )
        return self.market.sign_order(who, terms)

    def fund(self, who: LocalAccount, wei: int) -> None:
        self.market.deposit(who, wei)


def test_centralized_clears_at_gate_and_settles_the_batch() -> None:
    env = Env("centralized")
    s1, s2, b1, b2 = env.h
    env.fund(b1, 10**18)
    env.fund(b2, 10**18)
    for o in (
        env.order(s1, True, 300, 1 * PRICE),
        env.order(s2, True, 300, 3 * PRICE),
        env.order(b1, False, 400, 4 * PRICE),
        env.order(b2, False, 200, 2 * PRICE),
    ):
        assert env.coord.submit(o) == []
    assert env.coord.tick() == []  # gate not closed yet
    env.clock = env.start - 1
    [res] = env.coord.tick()
    trades = [env.market.trade(t) for t in res.trade_ids]
    assert all(t is not None for t in trades)
    assert sum(t.wh for t in trades if t) == sum(m.energy_wh for m in res.matches) > 0
    prices = {t.price for t in trades if t}
    assert len(prices) == 1  # uniform price
    debit = sum(t.escrow for t in trades if t)
    assert env.market.credit(b1.address) + env.market.credit(b2.address) == 2 * 10**18 - debit


def test_hybrid_matches_on_arrival_and_settles_signed_matches() -> None:
    env = Env("hybrid")
    s1, _, b1, _ = env.h
    env.fund(b1, 10**18)
    assert env.coord.submit(env.order(s1, True, 100, 2 * PRICE)) == []
    [m] = env.coord.submit(env.order(b1, False, 60, 5 * PRICE))
    assert (m.seller, m.buyer, m.energy_wh, m.price_wei_per_kwh) == ("h1", "h3", 60, 2 * PRICE)
    env.clock = env.start - 1
    [res] = env.coord.tick()
    [tid] = res.trade_ids
    t = env.market.trade(tid)
    assert t is not None and (t.seller, t.buyer, t.wh, t.price) == (
        s1.address,
        b1.address,
        60,
        2 * PRICE,
    )


def test_resubmitting_an_accepted_order_is_idempotent_in_every_state() -> None:
    env = Env("hybrid")
    s1, _, b1, _ = env.h
    env.fund(b1, 10**18)
    sell = env.order(s1, True, 100, 2 * PRICE)
    rec = env.coord.accept(sell)
    assert env.coord.accept(sell) == rec  # a retry after a lost acknowledgement
    other = env.market.sign_order(s1, replace(sell.terms, wh=50))  # same nonce
    with pytest.raises(OrderRejected) as exc:
        env.coord.accept(other)
    assert exc.value.status == 409
    env.coord.submit(env.order(b1, False, 100, 5 * PRICE))
    assert env.coord.accept(sell).state == "matched"
    env.clock = env.start - 1
    env.coord.tick()
    again = env.coord.accept(sell)  # nonce consumed on chain, window closed: still no 409
    assert (again.id, again.state, len(again.trade_ids)) == (rec.id, "settled", 1)
    assert len(env.coord.store.orders()) == 2


def test_bad_orders_are_rejected_with_a_reason() -> None:
    env = Env("hybrid")
    s1, s2, _, _ = env.h
    good = env.order(s1, True, 100, PRICE)
    env.coord.submit(good)
    first = env.coord.accept(good)  # the same signed order again: idempotent, no conflict
    assert (first.state, len(env.coord.store.orders())) == ("accepted", 1)
    forged = replace(good, terms=replace(good.terms, wh=999, nonce=7))
    with pytest.raises(OrderRejected, match="signature"):
        env.coord.submit(forged)
    env.market.remove_member(env.chain.admin, s2.address)
    with pytest.raises(OrderRejected, match="not a member"):
        env.coord.submit(env.order(s2, True, 5, PRICE))
    env.clock = env.start - 1
    with pytest.raises(OrderRejected, match="window closed"):
        env.coord.submit(env.order(s1, True, 100, PRICE))


def test_chain_refuses_altered_orders_and_prices_outside_limits() -> None:
    env = Env("centralized")
    s1, _, b1, _ = env.h
    env.fund(b1, 10**18)
    sell = env.order(s1, True, 100, 2 * PRICE)
    buy = env.order(b1, False, 100, 3 * PRICE)
    altered = replace(sell, terms=replace(sell.terms, price=PRICE))  # coordinator lowers it
    with pytest.raises(ContractRevert, match="BadSignature"):
        env.market.settle_batch(
            env.chain.coordinator, [altered, buy], [ChainMatch(0, 1, 100, PRICE)]
        )
    with pytest.raises(ContractRevert, match="PriceOutOfLimit"):
        env.market.settle_batch(
            env.chain.coordinator, [sell, buy], [ChainMatch(0, 1, 100, 4 * PRICE)]
        )
    with pytest.raises(ContractRevert, match="WrongRole"):
        env.market.settle_batch(s1, [sell, buy], [ChainMatch(0, 1, 100, 2 * PRICE)])
    env.market.settle_batch(env.chain.coordinator, [sell, buy], [ChainMatch(0, 1, 100, 2 * PRICE)])
