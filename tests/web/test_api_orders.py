"""The coordinator's HTTP intake on a real embedded chain: typed data for the wallet, a
signed order accepted (202) and listed, and every refusal with its status and reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from gridpeer.chain import dev_account
from gridpeer.chain.types import OrderTerms
from gridpeer.coordinator.wire import signature_hex, terms_json
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from tests.web.chainctx import chain_context

PRICE = 150 * 10**12


@pytest.fixture(scope="module")
def octx() -> Iterator[WebContext]:
    ctx = chain_context()
    ctx.design = "hybrid"
    ctx.gate_s = 60
    assert ctx.chain is not None
    ctx.members = {k.address.lower(): h for h, k in ctx.chain.demo_keys.items()}
    yield ctx
    ctx.chain.close()


@pytest.fixture(scope="module")
def client(octx: WebContext) -> TestClient:
    return TestClient(create_app(octx))


def _key(ctx: WebContext, house: str) -> LocalAccount:
    assert ctx.chain is not None
    return ctx.chain.demo_keys[house]


def _body(
    ctx: WebContext, c: TestClient, key: LocalAccount, sell: bool, nonce: int, wh: int = 100
) -> dict[str, Any]:
    st = c.get("/api/market/status").json()
    w = st["open_windows"][0]
    assert ctx.chain is not None
    terms = OrderTerms(key.address, sell, wh, PRICE, w["start"], w["end"], nonce, w["start"])
    signed = ctx.chain.market.sign_order(key, terms)
    return {"order": terms_json(terms), "signature": signature_hex(signed)}


def test_typed_data_is_what_a_wallet_signs(client: TestClient, octx: WebContext) -> None:
    td = client.get("/api/orders/typed-data").json()
    assert td["primaryType"] == "Order"
    assert octx.chain is not None
    assert td["domain"]["verifyingContract"] == octx.chain.market.address
    assert [f["name"] for f in td["types"]["Order"]] == [
        "maker", "sell", "wh", "price", "start", "end", "nonce", "expiry", "prefs", "premium",
        "partner",
    ]  # fmt: skip
    assert "EIP712Domain" in td["types"]


def test_status_shows_design_and_gate(client: TestClient) -> None:
    st = client.get("/api/market/status").json()
    assert st["design_id"] == "hybrid" and st["design"].startswith("Hybrid")
    assert st["gate_closes_at"].endswith("+00:00")


def test_order_is_accepted_listed_and_not_taken_twice(client: TestClient, octx: WebContext) -> None:
    h1 = _key(octx, "h1")
    body = _body(octx, client, h1, True, 1)
    r = client.post("/api/orders", json=body)
    assert r.status_code == 202, r.text
    oid = r.json()["id"]
    assert r.json() == {"id": oid, "state": "accepted"} and len(oid) == 66
    [row] = client.get("/api/orders", params={"maker": h1.address.lower()}).json()
    assert (row["id"], row["state"], row["reason"], row["trade_ids"]) == (oid, "accepted", "", [])
    assert row["order"]["price"] == str(PRICE) and row["house"] == "h1"
    r = client.post("/api/orders", json=body)  # a retry of the same signed order
    assert r.status_code == 202 and r.json() == {"id": oid, "state": "accepted"}
    again = _body(octx, client, h1, True, 1, wh=50)  # another order, same nonce
    r = client.post("/api/orders", json=again)
    assert r.status_code == 409 and "nonce 1" in r.json()["detail"]


def test_refusals_say_why(client: TestClient, octx: WebContext) -> None:
    h2, h3 = _key(octx, "h2"), _key(octx, "h3")
    body = _body(octx, client, h2, True, 1)
    body["order"]["wh"] = 101  # altered after signing
    r = client.post("/api/orders", json=body)
    assert r.status_code == 400 and "signature" in r.json()["detail"]
    stranger = dev_account("stranger")
    r = client.post("/api/orders", json=_body(octx, client, stranger, True, 1))
    assert r.status_code == 400 and "not a member" in r.json()["detail"]
    r = client.post("/api/orders", json=_body(octx, client, h3, False, 1, wh=1000))
    assert r.status_code == 400
    assert "not enough credit" in r.json()["detail"] and "CLP" in r.json()["detail"]
    bad = _body(octx, client, h2, True, 2)
    bad["signature"] = "0x1234"
    assert client.post("/api/orders", json=bad).status_code == 422
    bad = _body(octx, client, h2, True, 2)
    bad["order"]["wh"] = "lots"
    assert client.post("/api/orders", json=bad).status_code == 422
    late = _body(octx, client, h2, True, 3)
    late["order"]["expiry"] = late["order"]["start"] - 1
    late["signature"] = signature_hex(
        octx.chain.market.sign_order(  # type: ignore[union-attr]
            h2, OrderTerms(**{**late["order"], "price": PRICE, "premium": 0})
        )
    )
    r = client.post("/api/orders", json=late)
    assert r.status_code == 422 and "expires" in r.json()["detail"]


def test_funded_buyer_is_accepted_up_to_credit(client: TestClient, octx: WebContext) -> None:
    h3 = _key(octx, "h3")
    assert octx.chain is not None
    octx.chain.market.deposit(h3, 100 * PRICE // 1000)  # exactly one 100 Wh order
    r = client.post("/api/orders", json=_body(octx, client, h3, False, 5))
    assert r.status_code == 202, r.text
    r = client.post("/api/orders", json=_body(octx, client, h3, False, 6))
    assert r.status_code == 400 and "held for your other open buy orders" in r.json()["detail"]


def test_decentralized_market_has_no_intake(octx: WebContext) -> None:
    octx.design = "decentralized"
    try:
        c = TestClient(create_app(octx))
        assert c.post("/api/orders", json={"order": {}, "signature": "0x"}).status_code == 422
        h1 = _key(octx, "h1")
        r = c.post("/api/orders", json=_body(octx, c, h1, True, 9))
        assert r.status_code == 409 and "decentralized" in r.json()["detail"]
        assert c.get("/api/market/status").json()["gate_closes_at"] is None
    finally:
        octx.design = "hybrid"


def test_clearings_start_empty(client: TestClient) -> None:
    assert client.get("/api/market/clearings").json() == []


def test_a_buy_with_preferences_is_signed_accepted_and_listed(
    client: TestClient, octx: WebContext
) -> None:
    buyer, h1 = _key(octx, "h2"), _key(octx, "h1")
    assert octx.chain is not None
    nonce = client.get(f"/api/market/nonce/{h1.address}").json()
    assert nonce["member_index"] == octx.chain.market.member(h1.address)[0] > 0
    premium = PRICE // 10
    octx.chain.market.deposit(buyer, 100 * (PRICE + premium) // 1000)  # limit + premium
    w = client.get("/api/market/status").json()["open_windows"][0]
    order = {
        "maker": buyer.address, "sell": False, "wh": 100, "price": PRICE, "start": w["start"],
        "end": w["end"], "nonce": 10, "expiry": w["start"], "prefs": 1, "premium": premium,
        "partner": nonce["member_index"],
    }  # fmt: skip
    r = client.post("/api/market/orders/demo-signature", json={"signer": "demo:h2", "order": order})
    assert r.status_code == 200, r.text
    body = {"order": order, "signature": r.json()["signature"]}
    r = client.post("/api/orders", json=body)
    assert r.status_code == 202, r.text
    [row] = [
        x
        for x in client.get("/api/orders", params={"maker": buyer.address.lower()}).json()
        if x["order"]["nonce"] == 10
    ]
    assert (row["order"]["prefs"], row["order"]["premium"], row["order"]["partner"]) == (
        1, str(premium), nonce["member_index"]
    )  # fmt: skip
    r = client.post("/api/orders", json={**body, "order": {**order, "premium": premium - 1}})
    assert r.status_code == 400 and "signature" in r.json()["detail"]  # the premium is signed
    bad = {**order, "nonce": 11, "partner": 0}
    r = client.post("/api/market/orders/demo-signature", json={"signer": "demo:h2", "order": bad})
    assert r.status_code == 422 and "order.partner" in r.json()["detail"]
