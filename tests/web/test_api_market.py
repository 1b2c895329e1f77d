"""Market API on a real embedded chain: demo-key actions, wallet (unsigned tx) actions
behind Sign-In with Ethereum, and clear refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from gridpeer.chain import dev_account
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from tests.web.chainctx import chain_context

PRICE = 150 * 10**12  # 150 CLP/kWh at 1e12 wei per CLP


@pytest.fixture(scope="module")
def mctx() -> Iterator[WebContext]:
    ctx = chain_context()
    yield ctx
    assert ctx.chain is not None
    ctx.chain.close()


@pytest.fixture(scope="module")
def mclient(mctx: WebContext) -> TestClient:
    return TestClient(create_app(mctx))


def _window(c: TestClient) -> tuple[int, int]:
    st = c.get("/api/market/status").json()
    assert st["bidding_open"], st
    w = st["open_windows"][0]
    return w["start"], w["end"]


def test_status(mclient: TestClient) -> None:
    st = mclient.get("/api/market/status").json()
    assert st["mode"] == "windows" and st["tz_minutes"] == -240 and st["demo"]
    assert st["next_change_what"] == "bidding closes" and st["next_change"] > st["now"]
    assert st["currency"]["code"] == "CLP"


def test_offer_partial_buy_and_refusals(mclient: TestClient) -> None:
    start, end = _window(mclient)
    body = {"signer": "demo:h1", "wh": 500, "price": PRICE, "start": start, "end": end}
    r = mclient.post("/api/market/offers", json=body)
    assert r.status_code == 200, r.text
    oid = r.json()["id"]
    offers = mclient.get("/api/market/offers").json()
    assert [(o["id"], o["house"], o["remaining_wh"]) for o in offers] == [(oid, "h1", 500)]

    buy = mclient.post(f"/api/market/offers/{oid}/buy", json={"signer": "demo:h3", "wh": 200})
    assert buy.status_code == 200, buy.text
    trades = mclient.get("/api/market/trades", params={"account": dev_account("h3").address})
    t = trades.json()[0]
    assert (t["wh"], t["seller_house"], t["buyer_house"]) == (200, "h1", "h3")
    assert t["escrow"] == str(200 * PRICE // 1000) and t["phase"] == "before delivery"
    assert mclient.get("/api/market/offers").json()[0]["remaining_wh"] == 300

    cases = [
        (f"/api/market/offers/{oid}/buy", {"signer": "demo:h3", "wh": 301}, 409, "only 300"),
        (f"/api/market/offers/{oid}/buy", {"signer": "demo:h1", "wh": 1}, 409, "own offer"),
        (f"/api/market/offers/{oid}/buy", {"signer": "demo:h9", "wh": 1}, 403, "unknown house"),
        (f"/api/market/offers/{oid}/buy", {"signer": "wallet", "wh": 1}, 401, "sign in"),
        (f"/api/market/offers/{oid}/buy", {"signer": "demo:h3", "wh": 0}, 422, "greater"),
        ("/api/market/offers/77/buy", {"signer": "demo:h3", "wh": 1}, 404, "no offer"),
        ("/api/market/withdraw", {"signer": "demo:h2"}, 409, "nothing to withdraw"),
        ("/api/market/offers", body | {"start": start + 60, "end": end + 60}, 409, "window"),
        (
            "/api/market/offers",
            body | {"start": start - 86_400, "end": end - 86_400},
            409,
            "started",
        ),
        ("/api/market/offers", body | {"price": 0}, 422, "greater"),
    ]
    for path, payload, status, words in cases:
        r = mclient.post(path, json=payload)
        assert r.status_code == status, (path, payload, r.text)
        assert words in r.text, (path, r.text)
    cancel = mclient.post(f"/api/market/orders/{oid}/cancel", json={"signer": "demo:h1"})
    assert cancel.status_code == 200, cancel.text
    assert mclient.get("/api/market/offers").json() == []


def test_wallet_path_needs_sign_in_and_returns_unsigned_tx(
    mclient: TestClient, mctx: WebContext
) -> None:
    h2 = dev_account("h2")
    msg = mclient.get("/api/auth/message", params={"address": h2.address}).json()["message"]
    sig = "0x" + bytes(h2.sign_message(encode_defunct(text=msg)).signature).hex()
    me = mclient.post("/api/auth/verify", json={"message": msg, "signature": sig})
    assert me.status_code == 200 and me.json() == {"address": h2.address, "house": "h2"}
    assert mclient.get("/api/auth/session").json()["address"] == h2.address
    start, end = _window(mclient)
    r = mclient.post(
        "/api/market/requests",
        json={"signer": "wallet", "wh": 300, "price": PRICE, "start": start, "end": end},
    )
    assert r.status_code == 200, r.text
    tx = r.json()["tx"]
    assert mctx.chain is not None
    assert tx["from"] == h2.address and tx["to"] == mctx.chain.market.address
    assert int(tx["value"], 16) == 300 * PRICE // 1000  # the request escrows its cost
    assert int(tx["chainId"], 16) == mctx.chain.market.backend.chain_id
    mclient.post("/api/auth/logout")
    mclient.cookies.clear()
    assert mclient.get("/api/auth/session").json()["address"] is None


def test_explorer(mclient: TestClient) -> None:
    x = mclient.get("/api/chain/explorer", params={"blocks": 5}).json()
    assert len(x["blocks"]) == 5 and x["head"] == x["blocks"][0]["number"]
    names = {e["name"] for e in x["events"]}
    assert {"MemberAdded", "ScheduleSet"} <= names
    assert [a["house"] for a in x["accounts"]] == ["h1", "h2", "h3"]
    assert all(a["member"] for a in x["accounts"])


def test_summary_counts_the_days_trades(mclient: TestClient, mctx: WebContext) -> None:
    start, end = _window(mclient)
    body = {"signer": "demo:h2", "wh": 400, "price": PRICE, "start": start, "end": end}
    oid = mclient.post("/api/market/offers", json=body).json()["id"]
    assert mclient.post(f"/api/market/offers/{oid}/buy", json={"signer": "demo:h1", "wh": 400})
    day = mctx.clock.now().date().isoformat()
    s = mclient.get("/api/market/summary", params={"date": day}).json()
    assert s["trades"] >= 1 and s["traded_wh"] >= 400
    assert s["avg_price"] == str(PRICE)  # every trade here is at PRICE
    assert int(s["savings"]) == s["traded_wh"] * (180 - 60) * 10**12 // 1000
    assert mclient.get("/api/market/summary", params={"date": "1999-01-01"}).status_code == 404


def _detail(r: object) -> str:
    import json

    d = json.loads(r.text)["detail"]  # type: ignore[attr-defined]
    return "; ".join(e["msg"] for e in d) if isinstance(d, list) else str(d)


def test_validation_messages_speak_the_users_units(mclient: TestClient) -> None:
    start, end = _window(mclient)
    body = {"signer": "demo:h1", "wh": 500, "price": PRICE, "start": start, "end": end}
    cases = [
        (body | {"price": 2**64}, "price must be at most 18,446,744.07371 CLP/kWh"),
        (body | {"price": 0}, "price must be above 0 CLP/kWh"),
        (
            body | {"price": "cheap"},
            "price must be a number of CLP/kWh (the API takes whole wei per kWh; "
            "1 CLP = 1,000,000,000,000 wei)",
        ),
        (body | {"wh": 1.5}, "energy must be a whole number (Wh)"),
        (body | {"wh": 0}, "energy must be at least 1 Wh"),
        (body | {"wh": 2**32}, "energy must be at most 4,294,967.3 kWh"),
    ]
    for payload, words in cases:
        r = mclient.post("/api/market/offers", json=payload)
        assert r.status_code == 422, r.text
        assert _detail(r) == words, r.text
        assert "18446744073709551615" not in r.text and "Input should" not in r.text


def test_sanity_limits_from_capacity_and_tariff(mclient: TestClient) -> None:
    start, end = _window(mclient)  # a one-hour window
    assert end - start == 3600
    body = {"signer": "demo:h1", "wh": 500, "price": PRICE, "start": start, "end": end}
    cases = [
        (
            "/api/market/offers",
            body | {"wh": 5_000_000},
            "5,000 kWh is more than House 1 can deliver in 1 h: at most 8,000 Wh "
            "(3 kWp of PV for the whole window plus a full 5 kWh battery)",
        ),
        (
            "/api/market/offers",
            body | {"signer": "demo:h3", "wh": 10},
            "House 3 has no PV and no battery: it has no energy to sell",
        ),
        (
            "/api/market/offers",
            body | {"price": 99_999 * 10**12},
            "price 99,999 CLP/kWh is above the grid's import tariff (180 CLP/kWh): "
            "buying from the grid would be cheaper",
        ),
        (
            "/api/market/requests",
            body | {"price": 59 * 10**12},
            "price 59 CLP/kWh is below the grid's feed-in tariff (60 CLP/kWh): "
            "selling to the grid would pay more",
        ),
        (
            "/api/market/requests",
            body | {"wh": 9_201},
            "9,201 Wh is more than a house's grid connection carries in 1 h: at most "
            "9,200 Wh (9.2 kW)",
        ),
    ]
    for path, payload, words in cases:
        r = mclient.post(path, json=payload)
        assert r.status_code == 422, (payload, r.text)
        assert _detail(r) == words
    # at the limits the market takes them; taking more than the taker can carry is refused
    ok = mclient.post("/api/market/offers", json=body | {"wh": 8_000, "price": 180 * 10**12})
    assert ok.status_code == 200, ok.text
    oid = ok.json()["id"]
    assert ok.json()["label"] == f"O{int(oid) >> 2}"
    req = mclient.post("/api/market/requests", json=body | {"signer": "demo:h3", "wh": 9_200})
    assert req.status_code == 200, req.text
    rid = req.json()["id"]
    r = mclient.post(f"/api/market/requests/{rid}/sell", json={"signer": "demo:h2", "wh": 9_000})
    assert r.status_code == 422 and "House 2 can deliver in 1 h: at most 2,000 Wh" in _detail(r)
    for oid_, who in ((oid, "demo:h1"), (rid, "demo:h3")):
        assert mclient.post(f"/api/market/orders/{oid_}/cancel", json={"signer": who}).is_success


def test_explorer_speaks_the_communitys_units(mclient: TestClient) -> None:
    start, end = _window(mclient)
    body = {"signer": "demo:h1", "wh": 250, "price": PRICE, "start": start, "end": end}
    oid = int(mclient.post("/api/market/offers", json=body).json()["id"])
    x = mclient.get("/api/chain/explorer", params={"blocks": 3}).json()
    assert x["currency"]["code"] == "CLP" and x["tz"] == "UTC"
    posted = next(
        e for e in x["events"] if e["name"] == "OfferPosted" and e["fields"]["id"] == str(oid)
    )
    r = posted["readable"]
    assert r["id"] == f"O{oid >> 2}" and r["owner"] == "House 1"
    assert r["wh"] == "250 Wh" and r["price"] == "150 CLP/kWh"
    assert r["start"] == datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M")
    assert all(len(b["time"]) == 19 and b["time"][:2] == "20" for b in x["blocks"])
    mclient.post(f"/api/market/orders/{oid}/cancel", json={"signer": "demo:h1"})


def test_withdraw_reports_amount_and_gas(mclient: TestClient) -> None:
    start, end = _window(mclient)
    body = {"signer": "demo:h3", "wh": 100, "price": PRICE, "start": start, "end": end}
    rid = mclient.post("/api/market/requests", json=body).json()["id"]
    assert mclient.post(f"/api/market/orders/{rid}/cancel", json={"signer": "demo:h3"}).is_success
    h3 = dev_account("h3").address
    credit = int(mclient.get(f"/api/market/accounts/{h3}").json()["credit"])
    assert credit >= 100 * PRICE // 1000  # the request's escrow came back as credit
    out = mclient.post("/api/market/withdraw", json={"signer": "demo:h3"}).json()
    assert int(out["amount"]) == credit and int(out["fee"]) > 0 and out["id"] is None
    assert mclient.get(f"/api/market/accounts/{h3}").json()["credit"] == "0"


def test_a_disputed_trade_is_shown_and_its_buyer_cannot_reclaim(
    mclient: TestClient, mctx: WebContext
) -> None:
    start, end = _window(mclient)
    body = {"signer": "demo:h2", "wh": 300, "price": PRICE, "start": start, "end": end}
    oid = mclient.post("/api/market/offers", json=body).json()["id"]
    buy = mclient.post(f"/api/market/offers/{oid}/buy", json={"signer": "demo:h3", "wh": 300})
    assert buy.status_code == 200, buy.text  # all of it: no order left for later tests
    hub = mctx.chain
    assert hub is not None
    hub.poll()
    [tid] = [t.id for t in hub.trades.values() if t.order_id == int(oid)]
    with hub.lock:  # the meters disagree beyond the tolerance: the oracle opens a dispute
        hub.market.open_dispute(dev_account("oracle"), tid, 300, 180)
    hub.poll()
    trades = mclient.get("/api/market/trades").json()
    [t] = [t for t in trades if t["id"] == str(tid)]
    assert t["phase"] == "disputed" and t["reclaimable_at"] == end + hub.trades[tid].grace_s
    r = mclient.post(f"/api/market/trades/{tid}/reclaim", json={"signer": "demo:h3"})
    assert r.status_code == 409 and "disputed" in r.json()["detail"]


def test_orders_and_trades_have_short_labels_and_closed_orders_are_apart(
    mclient: TestClient, mctx: WebContext
) -> None:
    start, end = _window(mclient)
    body = {"signer": "demo:h2", "wh": 300, "price": PRICE, "start": start, "end": end}
    oid = mclient.post("/api/market/offers", json=body).json()["id"]
    buy = mclient.post(f"/api/market/offers/{oid}/buy", json={"signer": "demo:h3", "wh": 100})
    assert buy.status_code == 200, buy.text
    n = int(oid) >> 2
    assert buy.json()["label"] == f"O{n}.1" and int(buy.json()["id"]) > 2**20
    trades = mclient.get("/api/market/trades", params={"account": dev_account("h3").address})
    assert trades.json()[0]["label"] == f"O{n}.1"
    open_ = mclient.get("/api/market/offers").json()
    assert [(o["label"], o["bidding_open"]) for o in open_ if o["id"] == oid] == [(f"O{n}", True)]
    assert all(o["bidding_open"] for o in open_)
    assert mclient.get("/api/market/offers", params={"state": "closed"}).json() == []
    status = mclient.get("/api/market/status").json()
    assert status["session"]["start"] == start and status["session"]["end"] == end
    assert status["speed"] == 1.0 and status["tariff_import"] == str(180 * 10**12)
    assert status["last_trade"]["label"] == f"O{n}.1"
    # model time passes the window's start (last test here: chain time never goes back)
    mctx.clock.start += timedelta(seconds=start - int(mctx.clock.timestamp()) + 60)
    assert mclient.get("/api/market/offers").json() == []
    closed = mclient.get("/api/market/offers", params={"state": "closed"}).json()
    assert [(o["id"], o["bidding_open"], o["remaining_wh"]) for o in closed] == [(oid, False, 200)]
    r = mclient.post(f"/api/market/offers/{oid}/buy", json={"signer": "demo:h3", "wh": 1})
    assert r.status_code == 409 and "bidding is closed" in r.text
