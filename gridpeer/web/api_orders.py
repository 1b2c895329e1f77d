"""Signed orders for the centralized and hybrid markets (the coordinator's intake).

* ``GET /api/orders/typed-data``: the EIP-712 domain and types a wallet signs with.
* ``POST /api/orders``: submit ``{"order": {…}, "signature": "0x…"}``; 202 once stored.
* ``GET /api/orders?maker=0x…``: a member's orders and their states.
* ``GET /api/market/clearings``: the settled batches, newest first.

An order is checked here as the contract will check it (signature, membership, window
and gate closure, nonce, credit) and stored before the answer; the coordinator service
(``gridpeer coordinator``, or inside ``demo``/``serve``) reads it from the store, clears
and settles it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Depends, HTTPException, Query

from gridpeer.chain.client import MarketClient
from gridpeer.chain.types import OrderTerms
from gridpeer.coordinator.intake import Intake, OrderRejected
from gridpeer.coordinator.wire import BadOrder
from gridpeer.store.base import OrderRecord
from gridpeer.web.api_market import hub_of
from gridpeer.web.context import WebContext, get_context
from gridpeer.web.models import Problem
from gridpeer.web.models_orders import (
    ClearingOut,
    OrderAccepted,
    SignedOrderIn,
    SignedOrderOut,
    TypedDataOut,
)
from gridpeer.web.units import money

router = APIRouter(prefix="/api", tags=["orders"])
Ctx = Annotated[WebContext, Depends(get_context)]
COORDINATED = ("centralized", "hybrid")
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "refused: not a member, window closed, credit…"},
    409: {
        "model": Problem,
        "description": "nonce already used (by another order, or the same terms with "
        "another signature), or the market's design (decentralized) takes no signed orders",
    },
    503: {"model": Problem, "description": "this server runs without a blockchain"},
}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {503: {"model": Problem}}


def typed_data(market: MarketClient) -> dict[str, Any]:
    """EIP-712 ``{domain, types, primaryType}`` of the market's ``Order`` (no message)."""
    full = market.typed_order(OrderTerms("0x" + "00" * 20, False, 0, 0, 0, 0, 0, 0))
    return {"domain": full["domain"], "types": full["types"], "primaryType": "Order"}


def _coordinated(ctx: WebContext) -> None:
    if ctx.design not in COORDINATED:
        raise HTTPException(
            409,
            f"this market's design is {ctx.design}: no coordinator takes signed orders "
            "(post offers and requests instead)",
        )


def _iso(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, UTC).isoformat()


def order_out(rec: OrderRecord) -> SignedOrderOut:
    """A stored order as the API shows it."""
    return SignedOrderOut(
        id=rec.id,
        order=json.loads(rec.body)["order"],
        state=rec.state,
        reason=rec.reason,
        trade_ids=[str(t) for t in rec.trade_ids],
        matched_wh=rec.matched_wh,
        house=rec.house,
        created_at=_iso(rec.created_at / 1000),
    )


@router.get(
    "/orders/typed-data",
    response_model=TypedDataOut,
    responses=_READ_ERRORS,
    summary="EIP-712 domain and types of a signed order",
)
def get_typed_data(ctx: Ctx) -> dict[str, Any]:
    """What ``eth_signTypedData_v4`` needs besides the message: add ``"message": <the
    order's terms>`` and sign with the maker's wallet."""
    return typed_data(hub_of(ctx).market)


@router.post(
    "/orders",
    status_code=202,
    response_model=OrderAccepted,
    responses=_ERRORS,
    summary="Submit a signed order",
)
async def post_order(body: SignedOrderIn, ctx: Ctx) -> OrderAccepted:
    """Check a signed order (signature, membership, window, nonce, credit) and store it;
    202 once stored, and again for the same signed order resubmitted (idempotent: its
    current state). 400: refused (reason in the member's units); 409: the nonce is used
    by another order; 422: malformed terms or signature."""
    _coordinated(ctx)
    hub = hub_of(ctx)
    intake = Intake(
        market=hub.market,
        store=ctx.store,
        gate_s=ctx.gate_s,
        houses={to_checksum_address(a): h for a, h in ctx.members.items()},
        now=lambda: int(ctx.clock.timestamp()),
        money=lambda wei: money(wei, ctx.currency),
    )
    try:
        rec = await hub.call(intake.accept_json, body.model_dump())
    except OrderRejected as exc:
        raise HTTPException(exc.status, exc.reason) from None
    except BadOrder as exc:
        raise HTTPException(422, str(exc)) from None
    return OrderAccepted(id=rec.id, state=rec.state)


@router.get(
    "/orders",
    response_model=list[SignedOrderOut],
    responses={422: {"model": Problem}, **_READ_ERRORS},
    summary="Signed orders and their states",
)
def list_orders(
    ctx: Ctx,
    maker: Annotated[
        str | None,
        Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="only this member's orders (0x…)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="newest N orders")] = 200,
) -> list[SignedOrderOut]:
    """Orders newest first: accepted, matched, settled (with trade ids) or dropped (with
    the reason)."""
    who = None if maker is None else to_checksum_address(maker.lower())
    rows = ctx.store.orders(maker=who)
    return [order_out(r) for r in reversed(rows[-limit:])]


clearings_router = APIRouter(prefix="/api/market", tags=["market"])


@clearings_router.get(
    "/clearings",
    response_model=list[ClearingOut],
    responses=_READ_ERRORS,
    summary="Settled batches of the coordinator",
)
def clearings(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500, description="newest N batches")] = 20,
) -> list[ClearingOut]:
    """Each mined batch: window, price (wei/kWh), volume (Wh), trades, tx; newest first."""
    out: list[ClearingOut] = []
    for b in ctx.store.batches(states=["mined"], limit=limit):
        out.append(
            ClearingOut(
                window_start=b.start,
                window_end=b.end,
                price_wei_per_kwh=str(b.price),
                volume_wh=b.volume_wh,
                trades=b.trades,
                tx=b.tx,
                mined_at=None if b.mined_at is None else _iso(b.mined_at),
            )
        )
    return out
