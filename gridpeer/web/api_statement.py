"""A member's monthly statement: JSON or CSV (``/api/members/{house}/statement``) and a
printable page (``/houses/{house}/statement``). Only the house's members may read it
when the community is private (``serve``); see :mod:`gridpeer.web.statement`."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from gridpeer.store.base import Resolution
from gridpeer.web import pages
from gridpeer.web.api_telemetry import houses_of
from gridpeer.web.auth import COOKIE
from gridpeer.web.context import WebContext, get_context
from gridpeer.web.models import Problem
from gridpeer.web.statement import Statement, month_bounds, statement, to_csv
from gridpeer.web.units import trade_label

router = APIRouter(tags=["statement"])
Ctx = Annotated[WebContext, Depends(get_context)]
Month = Annotated[
    str | None,
    Query(
        pattern=r"^20\d\d-(0[1-9]|1[0-2])$",
        description="YYYY-MM in the community's time zone; this month if unset",
    ),
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem},
    403: {"model": Problem},
    404: {"model": Problem},
    503: {"model": Problem},
}


class StatementTradeOut(BaseModel):
    """One trade of the month: money in wei (strings), energy Wh, times UTC unix s."""

    id: str
    label: str
    start: int
    end: int
    role: Literal["bought", "sold"]
    other: str
    wh: int
    delivered_wh: int
    price: str
    amount: str
    status: str


class StatementOut(BaseModel):
    """A house's month: P2P energy (Wh) and money (wei), grid import/export (Wh) at the
    tariff, and the savings of trading against the grid (wei)."""

    house: str
    month: str
    currency: str
    wei_per_unit: str
    trades: list[StatementTradeOut]
    p2p_bought_wh: int
    p2p_sold_wh: int
    p2p_paid: str
    p2p_received: str
    grid_import_wh: float
    grid_export_wh: float
    grid_import_cost: str
    grid_export_revenue: str
    savings: str


def _out(ctx: WebContext, s: Statement) -> StatementOut:
    return StatementOut(
        house=s.house,
        month=s.month,
        currency=ctx.currency.code,
        wei_per_unit=ctx.currency.wei_per_unit,
        trades=[
            StatementTradeOut(
                id=str(t.id),
                label=trade_label(t.id),
                start=t.start,
                end=t.end,
                role="bought" if t.role == "bought" else "sold",
                other=t.other,
                wh=t.wh,
                delivered_wh=t.delivered_wh,
                price=str(t.price),
                amount=str(t.amount_wei),
                status=t.status,
            )
            for t in s.trades
        ],
        p2p_bought_wh=s.bought_wh,
        p2p_sold_wh=s.sold_wh,
        p2p_paid=str(s.paid_wei),
        p2p_received=str(s.received_wei),
        grid_import_wh=round(s.grid_import_wh, 1),
        grid_export_wh=round(s.grid_export_wh, 1),
        grid_import_cost=str(s.grid_import_cost_wei),
        grid_export_revenue=str(s.grid_export_revenue_wei),
        savings=str(s.savings_wei),
    )


def _check(ctx: WebContext, request: Request, house: str) -> None:
    if ctx.house(house) is None:
        raise HTTPException(404, f"unknown house {house!r}")
    if not ctx.auth.private:
        return
    address = ctx.auth.session(request.cookies.get(COOKIE))
    if address is None:
        raise HTTPException(401, "sign in with the wallet of a member of this house")
    if house not in houses_of(ctx, address):
        raise HTTPException(403, f"only members of house {house} may read its statement")


async def build(ctx: WebContext, house: str, month: str | None) -> Statement:
    """The statement of ``house`` for ``month`` (YYYY-MM; this month if None)."""
    the_month = date.fromisoformat(month + "-01") if month else ctx.today().replace(day=1)
    info = ctx.house(house)
    assert info is not None
    hub = ctx.chain
    accounts = {a for a, h in ctx.members.items() if h == house}
    if info.account:
        accounts.add(info.account.lower())
    names = dict(ctx.members)
    trades = []
    if hub is not None:
        if (key := hub.demo_keys.get(house)) is not None:
            accounts.add(key.address.lower())
        names |= hub.members | {k.address.lower(): h for h, k in hub.demo_keys.items()}
        trades = await hub.call(lambda: list(hub.trades.values()))
    start, end = month_bounds(the_month, ctx.tz)
    meter = await asyncio.to_thread(ctx.store.history, house, "meter", start, end, Resolution.MIN15)
    return statement(house, accounts, the_month, trades, meter, ctx.tariff, ctx.tz, names)


@router.get(
    "/api/members/{house}/statement",
    response_model=StatementOut,
    responses={
        **_ERRORS,
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"},
    },
    summary="A house's monthly statement",
)
async def statement_api(
    house: str,
    request: Request,
    ctx: Ctx,
    month: Month = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """Energy bought and sold peer to peer, grid import and export, payments and savings
    of one month; ``format=csv`` downloads it as a CSV file. Members of the house only
    (when the community is private)."""
    _check(ctx, request, house)
    s = await build(ctx, house, month)
    if format == "csv":
        body = to_csv(s, int(ctx.currency.wei_per_unit), ctx.currency.code, ctx.tz)
        return Response(
            body,
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="statement-{house}-{s.month}.csv"'
            },
        )
    return Response(_out(ctx, s).model_dump_json(), media_type="application/json")


@router.get("/houses/{house}/statement", response_class=HTMLResponse, include_in_schema=False)
async def statement_page(house: str, request: Request, ctx: Ctx, month: Month = None) -> Response:
    """The statement as a printable page (print it or save it as PDF from the browser)."""
    _check(ctx, request, house)
    s = await build(ctx, house, month)
    unit = int(ctx.currency.wei_per_unit)

    def money(wei: int) -> str:
        return f"{wei / unit:,.2f} {ctx.currency.code}"

    def when(ts: int) -> str:
        return datetime.fromtimestamp(ts, ctx.tz).strftime("%Y-%m-%d %H:%M")

    return pages.templates.TemplateResponse(
        request,
        "statement.html",
        {
            "community": ctx.community,
            "houses": ctx.houses,
            "page": "statement",
            "house": ctx.house(house),
            "s": s,
            "money": money,
            "when": when,
        },
    )
