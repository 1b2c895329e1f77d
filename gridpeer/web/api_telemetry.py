"""JSON API for measurements: overview, houses, latest readings, history, flows, live stream.

Privacy: with ``ctx.auth.private`` (a session secret is configured, as in ``serve``) a
house's own readings — ``/houses/{house}/latest``, ``/houses/{house}/history`` and its row
of the overview and the live stream — are readable only by the house's members, signed in
with their wallet (401 without a session, 403 for another house; the overview and stream
show other houses' rows with their readings null). Community totals and flows stay public.
The demo (no secret) shows everything to everyone, as before.

While the store's database is down every endpoint answers 503 with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse

from gridpeer.store.base import Bucket, Resolution, StoreUnavailable
from gridpeer.web.auth import COOKIE
from gridpeer.web.context import WebContext, get_context
from gridpeer.web.encoded import Encoded, respond
from gridpeer.web.live import (
    bucket_energy_wh,
    day_bounds,
    devices_of,
    flows,
    local_days,
)
from gridpeer.web.models import (
    CommunitySummary,
    Flows,
    History,
    HistoryPoint,
    HouseInfo,
    HouseNow,
    HousePage,
    Overview,
    Problem,
)
from gridpeer.web.summary import search_houses

router = APIRouter(prefix="/api", tags=["telemetry"])
Ctx = Annotated[WebContext, Depends(get_context)]
_DOWN: dict[int | str, dict[str, object]] = {503: {"model": Problem}}
_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": Problem}, **_DOWN}
_PRIVATE: dict[int | str, dict[str, object]] = {
    401: {"model": Problem},
    403: {"model": Problem},
    **_NOT_FOUND,
}
ChartResolution = Literal["1min", "15min", "1d"]
_MIN_DAY = date(2000, 1, 1)
_MAX_DAY = date(2100, 1, 1)


_DAY = "day in the community's time zone; today if unset"


def _check_day(day: date) -> date:
    if not _MIN_DAY <= day < _MAX_DAY:
        raise HTTPException(404, f"no data for {day}: dates run from 2000-01-01 to 2099-12-31")
    return day


def _json(body: str) -> Response:
    return Response(body, media_type="application/json")


def _store_up(ctx: WebContext) -> None:
    """Raise StoreUnavailable (→ 503) when the store is known to be down (no I/O): for
    answers served from the live cache, which would otherwise be stale."""
    reason = ctx.store.unavailable() or ctx.cache.store.unavailable()
    if reason is not None:
        raise StoreUnavailable(reason)


def houses_of(ctx: WebContext, address: str | None) -> frozenset[str]:
    """Houses whose member ``address`` is: ``ctx.members``, the house's account, or the
    chain's mapping (demo accounts)."""
    if address is None:
        return frozenset()
    a = address.lower()
    found = {h.id for h in ctx.houses if h.account is not None and h.account.lower() == a}
    if a in ctx.members:
        found.add(ctx.members[a])
    if ctx.chain is not None and (h := ctx.chain.house_of(address)) is not None:
        found.add(h)
    return frozenset(found)


def readable(ctx: WebContext, request: Request) -> frozenset[str] | None:
    """Houses whose own telemetry this request may read; None = all (not private)."""
    if not ctx.auth.private:
        return None
    return houses_of(ctx, ctx.auth.session(request.cookies.get(COOKIE)))


def _check_reader(ctx: WebContext, request: Request, house: str) -> None:
    allowed = readable(ctx, request)
    if allowed is None or house in allowed:
        return
    if ctx.auth.session(request.cookies.get(COOKIE)) is None:
        raise HTTPException(401, "sign in with the wallet of a member of this house")
    raise HTTPException(403, f"only members of house {house} may read its telemetry")


def _visible_rows(ctx: WebContext, allowed: frozenset[str] | None) -> list[HouseNow]:
    """The overview's rows, readings of houses outside ``allowed`` left null."""
    rows = ctx.cache.overview.houses
    if allowed is None:
        return rows
    stubs = ctx.cache.stub_rows
    return [h if h.id in allowed else stubs.get(h.id, h) for h in rows]


def _overview_for(
    ctx: WebContext,
    allowed: frozenset[str] | None,
    house: str | None = None,
    rows: str = "all",
) -> str:
    """The overview JSON with the readings of houses outside ``allowed`` left null; only
    ``house``'s row if given, no rows with ``rows="none"``."""
    rendered = ctx.cache.rendered
    if allowed is None and house is None and rows == "all":
        return rendered.overview_json
    return rendered.compose(allowed, house, rows)


@router.get("/overview", response_model=Overview, responses=_DOWN, summary="The community now")
async def overview(request: Request, ctx: Ctx) -> Response:
    """Every house's latest power (W), SoC and today's energy (Wh), plus community totals.

    Served from the live cache (refreshed about once a second). In a private community
    only the signed-in member's own house shows its readings."""
    _store_up(ctx)
    allowed = readable(ctx, request)
    if allowed is None:  # encoded once per refresh: gzip, ETag
        return respond(request, ctx.cache.rendered.overview)
    if not allowed:  # a visitor: the same for all of them
        return respond(request, ctx.cache.rendered.anonymous)
    return _json(_overview_for(ctx, allowed))


@router.get("/houses", response_model=list[HouseInfo], summary="The houses")
def houses(ctx: Ctx) -> list[HouseInfo]:
    """The community's houses: id, name, kind, PV kWp, battery kWh, demo account."""
    return ctx.houses


@router.get(
    "/community",
    response_model=CommunitySummary,
    responses=_DOWN,
    summary="The community summarized",
)
async def community(request: Request, ctx: Ctx) -> Response:
    """Totals, houses reporting, the distribution of net grid power now and today's top
    and bottom houses: the same size for 5 or 10,000 houses. Served from the live cache
    (refreshed about once a second); no rankings in a private community."""
    _store_up(ctx)
    rendered = ctx.cache.rendered
    private = readable(ctx, request) is not None
    return respond(request, rendered.summary_private if private else rendered.summary)


@router.get(
    "/houses/live",
    response_model=HousePage,
    responses=_DOWN,
    summary="Search and page the houses, with their readings now",
)
async def houses_live(
    request: Request,
    ctx: Ctx,
    q: Annotated[
        str, Query(max_length=100, description="part of a house's id or name (any case)")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=200, description="houses per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="houses to skip")] = 0,
    sort: Annotated[
        Literal["id", "name", "export", "import", "pv", "load"],
        Query(description="id (h2 before h10), name, or today's energy, largest first"),
    ] = "id",
) -> HousePage:
    """One page of the houses whose id or name contains ``q``, with ``total`` matches:
    latest power (W), SoC and today's energy (Wh) from the live cache. In a private
    community other houses' readings are null (and sort as zero)."""
    _store_up(ctx)
    return search_houses(_visible_rows(ctx, readable(ctx, request)), q, limit, offset, sort)


@router.get(
    "/houses/{house}/latest", response_model=HouseNow, responses=_PRIVATE, summary="A house now"
)
async def house_latest(house: str, request: Request, ctx: Ctx) -> Response:
    """A house's newest readings (W, V, A, SoC) and today's energy (Wh).

    Served from the live cache (refreshed about once a second). Members only in a private
    community."""
    body = ctx.cache.rendered.houses.get(house)
    if body is None:
        raise HTTPException(404, f"unknown house {house!r}")
    _check_reader(ctx, request, house)
    _store_up(ctx)
    return respond(request, body)


@router.get(
    "/houses/{house}/history",
    response_model=History,
    responses=_PRIVATE,
    summary="A device's history for a day",
)
async def house_history(
    house: str,
    request: Request,
    ctx: Ctx,
    device: Annotated[Literal["meter", "pv", "bess", "ev"], Query()] = "meter",
    day: Annotated[
        date | None,
        Query(alias="date", description="day in the community's time zone; today if unset"),
    ] = None,
    resolution: ChartResolution = "15min",
) -> Response:
    """Bucketed means (W, V, A, SoC) and energy (Wh) of one device over one day (from the
    community's local midnight; bucket times carry its UTC offset).

    ``1d`` gives one bucket per day of the month containing ``date`` (monthly history).
    Memoised until the live cache's next refresh (about a second). Members only in a
    private community."""
    info = ctx.house(house)
    if info is None:
        raise HTTPException(404, f"unknown house {house!r}")
    _check_reader(ctx, request, house)
    if device not in devices_of(info):
        raise HTTPException(404, f"house {house} has no {device}")
    the_day = _check_day(day or ctx.today())
    key = ("history", house, device, the_day, resolution)
    memo = ctx.cache.memo()
    if memo is not None and (body := memo.get(key)) is not None:
        return respond(request, body)
    body = await asyncio.to_thread(_history_body, ctx, house, device, the_day, resolution)
    if memo is not None:
        memo[key] = body
    return respond(request, body)


def _history_body(
    ctx: WebContext, house: str, device: str, the_day: date, resolution: str
) -> Encoded:
    res = Resolution(resolution)
    tz, now = ctx.tz, ctx.clock.now()
    if res is Resolution.DAY:
        first = the_day.replace(day=1)
        start, _ = day_bounds(first, tz)
        end, _ = day_bounds(date(first.year + first.month // 12, first.month % 12 + 1, 1), tz)
    else:
        start, end = day_bounds(the_day, tz)
    summed = res is Resolution.DAY and tz is not UTC
    if summed:  # the store's day buckets are UTC days: sum 15-min ones into local days
        quarter = ctx.store.history(house, device, start, end, Resolution.MIN15)
        buckets: Sequence[Bucket] = local_days(quarter, tz, Resolution.MIN15, now)
    else:
        buckets = ctx.store.history(house, device, start, end, res)
    points = [
        HistoryPoint(
            start=b.start.astimezone(tz),
            n=b.n,
            v=b.v,
            i=b.i,
            p=b.p,
            soc=b.soc,
            energy_wh=b.energy_wh if summed else bucket_energy_wh(b, res, now),
            p_grid=b.p_grid,
        )
        for b in buckets
    ]
    history = History(house=house, device=device, resolution=res.value, points=points)
    return Encoded.of(history.model_dump_json())


@router.get(
    "/flows",
    response_model=Flows,
    responses=_NOT_FOUND,
    summary="Community energy flows for a day",
)
def community_flows(
    ctx: Ctx,
    day: Annotated[
        date | None,
        Query(alias="date", description="day in the community's time zone; today if unset"),
    ] = None,
    resolution: Literal["1min", "15min"] = "15min",
) -> Flows:
    """Total consumption, PV, battery, grid import and export (W means) per bucket."""
    the_day = _check_day(day or ctx.today())
    start, end = day_bounds(the_day, ctx.tz)
    res = Resolution(resolution)
    every = ctx.store.history_all(start, end, res)  # one query for the whole community
    per_house = [
        {d: every[(h.id, d)] for d in devices_of(h) if (h.id, d) in every} for h in ctx.houses
    ]
    return flows(the_day, per_house, res, ctx.tz)


@router.get(
    "/stream",
    summary="Live overview (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    ctx: Ctx,
    house: Annotated[str | None, Query(max_length=100, description="only this house's row")] = None,
    rows: Annotated[
        Literal["all", "none"], Query(description="none: totals only, no house rows")
    ] = "all",
) -> StreamingResponse:
    """``event: overview`` with the overview JSON on every refresh, until the server stops
    (as ``/api/overview``: other houses' readings null in a private community). A page
    of one house asks for its row only, a large community's overview for none."""
    allowed = readable(ctx, request)

    async def events() -> AsyncIterator[str]:
        version = -1
        while not ctx.stop.is_set():
            if ctx.cache.version != version:
                version = ctx.cache.version
                yield f"event: overview\ndata: {_overview_for(ctx, allowed, house, rows)}\n\n"
            else:
                yield ": keep-alive\n\n"
            waiter = asyncio.create_task(ctx.stop.wait())
            newer = asyncio.create_task(ctx.cache.wait_newer(version, 15.0))
            await asyncio.wait({waiter, newer}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            newer.cancel()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
