"""Deposit, order nonce and demo signatures (api_wallet) on a real embedded chain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from gridpeer.chain import dev_account, order_wire
from gridpeer.chain.types import OrderTerms
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from tests.web.chainctx import chain_context

PRICE = 150 * 10**12


@pytest.fixture(scope="module")
def wctx() -> Iterator[WebContext]:
    ctx = chain_context()
    yield ctx
    assert ctx.chain is not None
    ctx.chain.close()


@pytest.fixture(scope="module")
def wclient(wctx: WebContext) -> TestClient:
    return TestClient(create_app(wctx))


def test_demo_deposit_adds_credit(wclient: TestClient, wctx: WebContext) -> None:
    h1 = dev_account("h1").address
    before = int(wclient.get(f"/api/market/accounts/{h1}").json()["credit"])
    r = wclient.post("/api/market/deposit", json={"signer": "demo:h1", "value": 10**14})
    assert r.status_code == 200, r.text
    assert r.json()["tx_hash"].startswith("0x")
    assert int(wclient.get(f"/api/market/accounts/{h1}").json()["credit"]) == before + 10**14


def test_wallet_deposit_is_an_unsigned_tx_with_the_value(
    wclient: TestClient, wctx: WebContext
) -> None:
    assert wclient.post("/api/market/deposit", json={"value": 5}).status_code == 401
    h2 = dev_account("h2")
    msg = wclient.get("/api/auth/message", params={"address": h2.address}).json()["message"]
    sig = "0x" + bytes(h2.sign_message(encode_defunct(text=msg)).signature).hex()
    assert wclient.post("/api/auth/verify", json={"message": msg, "signature": sig}).is_success
    try:
        tx = wclient.post("/api/market/deposit", json={"value": 7 * 10**13}).json()["tx"]
    finally:
        wclient.post("/api/auth/logout")
        wclient.cookies.clear()
    assert wctx.chain is not None
    assert tx["from"] == h2.address and tx["to"] == wctx.chain.market.address
    assert int(tx["value"], 16) == 7 * 10**13


@pytest.mark.parametrize("value", [0, -1, 2**96, "lots"])
def test_bad_deposit_amounts_are_refused(wclient: TestClient, value: object) -> None:
    r = wclient.post("/api/market/deposit", json={"signer": "demo:h1", "value": value})
    assert r.status_code == 422


def test_nonce_is_the_last_consumed(wclient: TestClient) -> None:
    h3 = dev_account("h3").address
    got = wclient.get(f"/api/market/nonce/{h3}").json()
    assert got == {"address": h3, "last_consumed": 0, "member_index": got["member_index"]}
    assert got["member_index"] >= 1  # h3 is a member: its index names it as an order's partner
    assert wclient.get("/api/market/nonce/0x1234").status_code == 422


def _terms(maker: str) -> OrderTerms:
    return OrderTerms(maker, True, 500, PRICE, 1_900_000_000, 1_900_003_600, 1, 1_900_000_000)


def test_demo_signature_is_the_houses_eip712_signature(
    wclient: TestClient, wctx: WebContext
) -> None:
    key = dev_account("h1")
    terms = _terms(key.address)
    body = {"signer": "demo:h1", "order": order_wire.order_message(terms)}
    r = wclient.post("/api/market/orders/demo-signature", json=body)
    assert r.status_code == 200, r.text
    assert wctx.chain is not None
    expected = order_wire.signature_hex(wctx.chain.market.sign_order(key, terms))
    assert r.json() == {"signature": expected}


@pytest.mark.parametrize(
    ("signer", "order", "status", "why"),
    [
        ("demo:h1", order_wire.order_message(_terms(dev_account("h2").address)), 403, "not demo"),
        ("demo:h9", order_wire.order_message(_terms(dev_account("h1").address)), 403, "unknown"),
        ("demo:h1", {"maker": dev_account("h1").address}, 422, "missing"),
        ("wallet", order_wire.order_message(_terms(dev_account("h1").address)), 422, ""),
    ],
)
def test_demo_signature_refusals(
    wclient: TestClient, signer: str, order: dict[str, object], status: int, why: str
) -> None:
    r = wclient.post("/api/market/orders/demo-signature", json={"signer": signer, "order": order})
    assert r.status_code == status, r.text
    assert why in str(r.json()["detail"])
