"""Members revoke signed orders (invalidateNonce); the EIP-712 domain follows the chain id."""

from __future__ import annotations

import pytest
from eth_account.messages import encode_typed_data

from gridpeer.chain import (
    MarketClient,
    Match,
    OrderTerms,
    Schedule,
    SignedOrder,
    errors,
    open_chain,
)
from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.events import AdminEvent
from tests.chain.conftest import PRICE, Env


def _pair(e: Env, m: MarketClient, nonce_s: int, nonce_b: int) -> list[SignedOrder]:
    s, b = e.h[0], e.h[1]
    start, end = e.window()
    exp = m.now() + 86_400
    return [
        m.sign_order(s, OrderTerms(s.address, True, 10, PRICE, start, end, nonce_s, exp)),
        m.sign_order(b, OrderTerms(b.address, False, 10, PRICE, start, end, nonce_b, exp)),
    ]


def test_invalidate_nonce_revokes_signed_orders_below(env: Env) -> None:
    m, ch, (s, b, _, _) = env.market, env.chain, env.h
    m.deposit(b, 10**18)
    revoked = _pair(env, m, 5, 1)
    m.invalidate_nonce(s, 6)  # every order of s with nonce < 6
    ev = m.receipt_events()[-1]
    assert isinstance(ev, AdminEvent) and ev.fields == {"member": s.address, "below": 6}
    assert m.member(s.address)[2] == 5
    with pytest.raises(errors.NonceUsed):
        m.settle_batch(ch.coordinator, revoked, [Match(0, 1, 10, PRICE)])
    with pytest.raises(errors.StaleNonce):  # never lowered (nor a no-op)
        m.invalidate_nonce(s, 6)
    for bad in (0, 2**31 + 1):
        with pytest.raises(errors.AmountOverflow):
            m.invalidate_nonce(s, bad)
    with pytest.raises(errors.NotMember):
        m.invalidate_nonce(ch.oracle, 3)
    m.settle_batch(ch.coordinator, _pair(env, m, 6, 1), [Match(0, 1, 10, PRICE)])
    assert m.member(s.address)[2] == 6 and m.member(b.address)[2] == 1
    m.invalidate_nonce(b, 2**31)  # the largest: revokes every possible order of b
    assert m.member(b.address)[2] == 2**31 - 1


def test_domain_separator_follows_the_chain_id() -> None:
    with AnvilNode() as node:
        ch = open_chain(node.url)
        m = ch.deploy_market()
        m.set_schedule(ch.admin, Schedule("open"))
        s, b = ch.houses(2, m)
        m.deposit(b, 10**18)
        env = Env("anvil", ch, m, [s, b])
        old = _pair(env, m, 1, 1)
        domain = encode_typed_data(full_message=m.typed_order(old[0].terms)).header
        assert m._call("DOMAIN_SEPARATOR")[0] == domain
        ch.backend.w3.provider.make_request("anvil_setChainId", [4242])  # type: ignore[attr-defined]
        m2 = MarketClient(open_chain(node.url).backend, m.address)
        assert m2.backend.chain_id == 4242
        new = _pair(env, m2, 1, 1)
        domain2 = encode_typed_data(full_message=m2.typed_order(new[0].terms)).header
        assert domain2 != domain and m2._call("DOMAIN_SEPARATOR")[0] == domain2
        with pytest.raises(errors.BadSignature):  # signed for the old chain: no replay
            m2.settle_batch(ch.coordinator, old, [Match(0, 1, 10, PRICE)])
        m2.settle_batch(ch.coordinator, new, [Match(0, 1, 10, PRICE)])
