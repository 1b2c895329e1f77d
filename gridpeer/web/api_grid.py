"""``GET /api/grid``: the live power flow of the community's feeder (``[grid]`` in the
community config; see :mod:`gridpeer.web.grid`). Public like the community totals: it
shows buses, lines and transformers, never a house's own readings."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response

from gridpeer.web.context import WebContext, get_context
from gridpeer.web.grid import GridStatus
from gridpeer.web.models import Problem

router = APIRouter(prefix="/api", tags=["grid"])
Ctx = Annotated[WebContext, Depends(get_context)]
RETRY_AFTER_S = 5
"""``Retry-After`` while the feeder model is loading, s."""


@router.get(
    "/grid",
    response_model=GridStatus,
    responses={404: {"model": Problem}, 503: {"model": Problem}},
    summary="The feeder's power flow now: voltages, loadings, violations",
)
async def grid(ctx: Ctx) -> Response:
    """An AC power flow of every house's net grid power now (its latest meter reading;
    houses without one count as 0 W) on the community's low-voltage feeder: the lowest
    and highest bus voltage (p.u.), the most loaded line and transformer (%), losses,
    and the violations (voltage outside ``1 ± voltage_band``, loading above
    ``max_loading_pct``). Solved at most every ``[grid] refresh_s`` wall seconds.

    404 when the community has no ``[grid]``; 503 while the feeder model is loading (a
    few seconds after start) or when it could not be built (the reason is given)."""
    live = ctx.grid
    if live is None:
        raise HTTPException(
            404, "this community has no feeder: add a [grid] section to its config (docs/grid.md)"
        )
    body = await asyncio.to_thread(live.status_json, ctx.cache.overview)
    if body is None:
        detail = live.error or "the feeder model is loading; try again in a few seconds"
        raise HTTPException(503, detail, headers={"Retry-After": str(RETRY_AFTER_S)})
    return Response(body, media_type="application/json")
