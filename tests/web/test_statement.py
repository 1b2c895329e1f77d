"""The monthly statement: the arithmetic (pure) and the API, CSV and printable page, for
the house's members only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient

from gridpeer.chain.hub import ChainHub, TradeRow
from gridpeer.store.base import Bucket
from gridpeer.web.app import create_app
from gridpeer.web.auth import COOKIE, Auth
from gridpeer.web.context import WebContext
from gridpeer.web.statement import statement
from tests.web.chainctx import chain_context
from tests.web.conftest import DAY0

ME, OTHER = "0x" + "aa" * 20, "0x" + "bb" * 20
PRICE = 150 * 10**12  # wei/kWh
TARIFF = (180 * 10**12, 60 * 10**12)
T0 = int(datetime(2026, 3, 10, 17, tzinfo=UTC).timestamp())


def row(
    tid: int,
    seller: str,
    buyer: str,
    wh: int,
    delivered: int | None,
    start: int = T0,
    status: str = "settled",
) -> TradeRow:
    escrow = wh * PRICE // 1000
    paid = None if delivered is None else delivered * PRICE // 1000
    return TradeRow(
        tid,
        tid,
        seller,
        buyer,
        wh,
        PRICE,
        start,
        start + 900,
        escrow,
        1,
        status,
        delivered,
        paid,
        None if paid is None else escrow - paid,
    )


def test_statement_arithmetic() -> None:
    trades = [
        row(4, OTHER, ME, 500, 400),  # bought 400 of 500 Wh
        row(8, ME, OTHER, 300, 300),  # sold 300 Wh
        row(12, OTHER, ME, 100, None, status="open"),  # not paid yet: left out
        row(16, OTHER, ME, 100, 100, start=T0 + 40 * 86400),  # next month: left out
        row(20, OTHER, "0x" + "cc" * 20, 100, 100),  # not ours
    ]
    quarter = [
        Bucket("h1", "meter", DAY0, 15, None, None, 0.0, None, 0.0, p_grid=1000.0),
        Bucket("h1", "meter", DAY0, 15, None, None, 0.0, None, 0.0, p_grid=-400.0),
        Bucket("h1", "meter", DAY0, 15, None, None, 0.0, None, 0.0, p_grid=None),
    ]
    s = statement("h1", {ME}, date(2026, 3, 1), trades, quarter, TARIFF, house_of={OTHER: "h2"})
    assert [(t.id, t.role, t.other) for t in s.trades] == [(4, "bought", "h2"), (8, "sold", "h2")]
    assert (s.bought_wh, s.sold_wh) == (400, 300)
    assert s.paid_wei == 400 * PRICE // 1000 and s.received_wei == 300 * PRICE // 1000
    assert (s.grid_import_wh, s.grid_export_wh) == (250.0, 100.0)
    assert s.grid_import_cost_wei == 250 * TARIFF[0] // 1000
    # saved (180 - 150) per kWh bought, earned (150 - 60) per kWh sold more than feed-in
    assert s.savings_wei == 400 * 30 * 10**12 // 1000 + 300 * 90 * 10**12 // 1000


def _ctx() -> tuple[WebContext, ChainHub, str, str]:
    ctx = chain_context()
    ctx.auth = Auth(secret=b"s" * 32)  # private: members only
    hub = ctx.chain
    assert hub is not None
    h1, h2 = (hub.demo_keys[h].address for h in ("h1", "h2"))
    start = int(ctx.clock.timestamp()) - 3600
    hub.trades[4] = row(4, h1, h2, 200, 180, start=start)
    return ctx, hub, h1, h2


def test_statement_api_csv_and_page() -> None:
    ctx, _, h1, h2 = _ctx()
    client = TestClient(create_app(ctx))
    url = "/api/members/h1/statement"
    assert client.get(url).status_code == 401
    client.cookies.set(COOKIE, ctx.auth.cookie(h2))
    assert client.get(url).status_code == 403
    client.cookies.set(COOKIE, ctx.auth.cookie(h1))
    body = client.get(url).json()
    assert body["p2p_sold_wh"] == 180 and body["p2p_bought_wh"] == 0
    assert body["trades"][0]["role"] == "sold" and body["trades"][0]["other"] == "h2"
    assert int(body["p2p_received"]) == 180 * PRICE // 1000
    month = ctx.today().strftime("%Y-%m")
    assert body["month"] == month

    r = client.get(url, params={"format": "csv", "month": month})
    assert r.headers["content-type"].startswith("text/csv")
    assert f"statement-h1-{month}.csv" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[2][3:7] == ["sold", "h2", "200", "180"]
    totals = {r[0]: r[1] for r in rows if len(r) == 2}
    assert totals["p2p_sold_wh"] == "180"
    assert float(totals["p2p_received_CLP"]) == 180 * 150 / 1000

    page = client.get("/houses/h1/statement", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Monthly statement" in page.text
    assert "format=csv" in page.text
    assert client.get(url, params={"month": "2026-13"}).status_code == 422
    assert client.get("/api/members/nope/statement").status_code == 404
    earlier = (ctx.clock.now() - timedelta(days=40)).strftime("%Y-%m")
    assert client.get(url, params={"month": earlier}).json()["trades"] == []


def test_statement_in_openapi() -> None:
    ctx, *_ = _ctx()
    spec = TestClient(create_app(ctx)).get("/openapi.json").json()
    op = spec["paths"]["/api/members/{house}/statement"]["get"]
    assert "text/csv" in op["responses"]["200"]["content"]
    assert {"401", "403", "404"} <= set(op["responses"])
