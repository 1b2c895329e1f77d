"""HTML pages (server-rendered shells; the data comes from the JSON API and the live stream)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from gridpeer.web import limits
from gridpeer.web.context import WebContext, get_context

_HERE = Path(__file__).parent
templates = Jinja2Templates(directory=_HERE / "templates")
router = APIRouter(include_in_schema=False)
Ctx = Annotated[WebContext, Depends(get_context)]
CARDS_MAX = 60
"""The overview shows a card per house up to this many houses; a larger community gets
its summary only (distribution, top and bottom houses) and the searchable houses list."""


def _plotly_js() -> Path:
    """plotly.js shipped inside the installed ``plotly`` Python package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@router.get("/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    """Serve plotly.js from the installed package (never copied into the repo)."""
    return FileResponse(
        _plotly_js(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _page(
    request: Request, ctx: WebContext, name: str, status_code: int = 200, **extra: object
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {
            "community": ctx.community,
            "houses": ctx.houses,
            "page": name.split(".")[0],
            "cards_max": CARDS_MAX,
            **extra,
        },
        status_code=status_code,
    )


_TITLES = {404: "Page not found", 405: "Not allowed", 422: "Invalid address"}


def error_page(request: Request, ctx: WebContext, status: int, detail: str) -> HTMLResponse:
    """An HTML error page for a browser (API clients get JSON): what went wrong and where
    to go instead."""
    title = _TITLES.get(status, "Something went wrong" if status >= 500 else "Request refused")
    return _page(request, ctx, "error.html", status, status=status, title=title, detail=detail)


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, ctx: Ctx) -> HTMLResponse:
    """Community overview: totals, the community at a glance (distribution, top and bottom
    houses) and, up to :data:`CARDS_MAX` houses, a card per house."""
    return _page(request, ctx, "overview.html")


@router.get("/houses", response_class=HTMLResponse)
def houses_page(request: Request, ctx: Ctx) -> HTMLResponse:
    """Every house, searched and paged on the server (``/api/houses/live``)."""
    return _page(request, ctx, "houses.html")


@router.get("/houses/{house}/meter", response_class=HTMLResponse)
def meter_page(house: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """A house's smart meter: power, V, I, today's kWh, daily and monthly history."""
    info = ctx.house(house)
    if info is None:
        raise HTTPException(404, f"unknown house {house!r}")
    return _page(request, ctx, "meter.html", house=info)


@router.get("/houses/{house}/pv", response_class=HTMLResponse)
def pv_page(house: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """A house's PV and battery: power, voltage, current, SoC, history."""
    info = ctx.house(house)
    if info is None:
        raise HTTPException(404, f"unknown house {house!r}")
    return _page(request, ctx, "pv.html", house=info)


@router.get("/market", response_class=HTMLResponse)
def market_page(request: Request, ctx: Ctx) -> HTMLResponse:
    """Energy market of the community's design: decentralized – sell/request forms,
    offers, requests; centralized/hybrid – gate closure, last clearing, a signed-order
    form and the member's signed orders, deposit; both – my trades, balance, wallet."""
    accounts = {h.id: h.account for h in ctx.houses if h.account}
    capacity = {h.id: {"pv_kwp": h.pv_kwp, "bess_kwh": h.bess_kwh} for h in ctx.houses}
    return _page(
        request,
        ctx,
        "market.html",
        accounts=accounts,
        capacity=capacity,
        connection_w=limits.CONNECTION_W,
        demo=ctx.chain is not None and bool(ctx.chain.demo_keys),
        design=ctx.design,
    )


@router.get("/explorer", response_class=HTMLResponse)
def explorer_page(request: Request, ctx: Ctx) -> HTMLResponse:
    """Chain explorer: blocks, transactions, decoded events, accounts and balances."""
    return _page(request, ctx, "explorer.html")
