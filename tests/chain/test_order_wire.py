"""Wire format of signed orders: round trip, refusals, and orders decoded from the wire
settle on chain (revm: the contract verifies the signature it carries)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.chain import Match, OrderTerms, open_chain, order_wire
from gridpeer.chain.order_wire import WireError
from tests.chain.conftest import PRICE, make_env

KEY = Account.from_key(b"\x11" * 32)
DOMAIN = order_wire.domain(31337, "0x" + "ab" * 20)
TERMS = OrderTerms(KEY.address, True, 500, PRICE, 1_767_265_200, 1_767_268_800, 7, 1_767_265_200)


def test_encoding_is_compact_json_in_eip712_field_order() -> None:
    signed = order_wire.sign(KEY, DOMAIN, TERMS)
    body = order_wire.encode(signed)
    obj = json.loads(body)
    assert list(obj) == ["order", "signature"]
    assert list(obj["order"]) == list(order_wire.REQUIRED)  # no preference: not sent
    assert obj["order"]["price"] == PRICE and obj["order"]["sell"] is True
    assert len(obj["signature"]) == 2 + 2 * order_wire.SIGNATURE_B
    assert b" " not in body
    assert order_wire.decode(body) == signed
    assert order_wire.recover(DOMAIN, signed) == KEY.address


uint = st.integers(0, 2**32 - 1)
uint40 = st.integers(0, 2**40 - 1)


@settings(max_examples=50, deadline=None)
@given(st.booleans(), uint, st.integers(0, 2**64 - 1), uint40, uint40, uint, uint40)
def test_round_trip_keeps_every_field_and_the_signer(
    sell: bool, wh: int, price: int, start: int, end: int, nonce: int, expiry: int
) -> None:
    terms = OrderTerms(KEY.address, sell, wh, price, start, end, nonce, expiry)
    signed = order_wire.sign(KEY, DOMAIN, terms)
    back = order_wire.decode(order_wire.encode(signed).decode())
    assert back == signed
    assert order_wire.recover(DOMAIN, back) == KEY.address


PREFS = st.sampled_from([(0, 0, 0), (1, 0, 3), (2, 0, 0), (4, 10**12, 0), (7, 2**64 - 1, 9)])


@settings(max_examples=30, deadline=None)
@given(PREFS, st.integers(1, 2**16 - 1))
def test_preferences_round_trip_and_are_signed(pref: tuple[int, int, int], partner: int) -> None:
    prefs, premium, part = pref
    part = partner if prefs & 1 else 0
    terms = dataclasses.replace(TERMS, sell=False, prefs=prefs, premium=premium, partner=part)
    signed = order_wire.sign(KEY, DOMAIN, terms)
    obj = json.loads(order_wire.encode(signed))
    assert {k for k in ("prefs", "premium", "partner") if k in obj["order"]} == {
        k for k, v in (("prefs", prefs), ("premium", premium), ("partner", part)) if v
    }
    assert order_wire.decode(obj) == signed
    assert order_wire.recover(DOMAIN, signed) == KEY.address
    # a coordinator that drops or changes a preference no longer has the member's signature
    dropped = dataclasses.replace(terms, prefs=0, premium=0, partner=0)
    for forged in (dropped, dataclasses.replace(terms, premium=premium ^ 1)):
        tampered = dataclasses.replace(signed, terms=forged)
        if forged != terms:
            assert order_wire.recover(DOMAIN, tampered) != KEY.address


def _wire(**order: object) -> dict[str, object]:
    obj = order_wire.to_wire(order_wire.sign(KEY, DOMAIN, TERMS))
    obj["order"] = {**obj["order"], **order}
    return obj


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "JSON object"),
        (json.dumps({"order": {}}), "JSON object"),
        (_wire(price="1.5"), "order.price must be a JSON integer"),
        (_wire(price="-150"), "order.price must be a JSON integer"),
        (_wire(wh=True), "order.wh must be a JSON integer"),
        (_wire(wh=2**32), "uint32"),
        (_wire(start=-1), "uint40"),
        (_wire(sell="yes"), "order.sell"),
        (_wire(maker="0x12"), "order.maker"),
        (_wire(extra=1), "unknown extra"),
        (_wire(prefs=8), "uint3"),
        (_wire(premium=-1), "order.premium = -1 does not fit in uint64"),
        (_wire(partner=2**16), "uint16"),
        (_wire(prefs=2), "for buy orders"),
        (_wire(sell=False, premium=5), "premium needs a preference"),
        (_wire(sell=False, prefs=1), "partner .* exactly when"),
        (_wire(sell=False, prefs=2, partner=3), "partner .* exactly when"),
        ({"order": {"maker": KEY.address}, "signature": "0x" + "00" * 65}, "missing sell"),
        ({"order": TERMS.__dict__, "signature": "0x1234"}, "130 hex digits"),
        ({"order": TERMS.__dict__, "signature": "0x" + "00" * 64 + "05"}, "v must be"),
    ],
)
def test_malformed_payloads_are_refused_with_the_reason(payload: object, why: str) -> None:
    with pytest.raises(WireError, match=why):
        order_wire.decode(payload)  # type: ignore[arg-type]


def test_decimal_strings_are_read_as_integers() -> None:
    signed = order_wire.sign(KEY, DOMAIN, TERMS)
    assert order_wire.decode(_wire(price=str(PRICE), wh="500")) == signed


def test_v_zero_or_one_reads_as_27_or_28() -> None:
    signed = order_wire.sign(KEY, DOMAIN, TERMS)
    obj = order_wire.to_wire(signed)
    obj["signature"] = obj["signature"][:-2] + f"{signed.v - 27:02x}"
    assert order_wire.decode(obj) == signed


def test_orders_from_the_wire_settle_on_chain() -> None:
    chain = open_chain("revm")
    env = make_env("revm", chain)
    m, (s, b, _, _) = env.market, env.h
    m.deposit(b, 10**18)
    start, end = env.window()
    sell = OrderTerms(s.address, True, 300, PRICE, start, end, 1, start)
    buy = OrderTerms(b.address, False, 300, PRICE, start, end, 1, start)
    wire = [order_wire.encode(m.sign_order(k, t)) for k, t in ((s, sell), (b, buy))]
    orders = [order_wire.decode(w) for w in wire]
    assert m.typed_order(sell) == order_wire.typed_data(m.domain(), sell)
    batch = m.settle_batch(chain.coordinator, orders, [Match(0, 1, 300, PRICE)])
    assert batch >= 1
    assert m.member(s.address)[2] == 1 and m.member(b.address)[2] == 1
