"""Sign-In with Ethereum endpoints: get a message, post its signature, see the session.

The session cookie is ``HttpOnly``, ``SameSite=Strict`` and, when the request came over
HTTPS (directly or through a proxy whose ``X-Forwarded-Proto`` uvicorn trusts),
``Secure``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from gridpeer.web.auth import COOKIE, NONCE_TTL_S, SESSION_TTL_S, AuthError, client_key
from gridpeer.web.context import WebContext, get_context
from gridpeer.web.models import Problem
from gridpeer.web.models_market import NonceOut, SessionOut, VerifyIn

router = APIRouter(prefix="/api/auth", tags=["wallet"])
Ctx = Annotated[WebContext, Depends(get_context)]
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: {"model": Problem}}
_LIMITED: dict[int | str, dict[str, Any]] = {429: {"model": Problem}, **_UNAVAILABLE}
_ERR: dict[int | str, dict[str, Any]] = {401: {"model": Problem}, **_UNAVAILABLE}


def _house(ctx: WebContext, address: str | None) -> str | None:
    """The member's house: from ``ctx.members`` (the config), else the chain's (demo)."""
    if address is None:
        return None
    if (house := ctx.members.get(address.lower())) is not None:
        return house
    return ctx.chain.house_of(address) if ctx.chain else None


@router.get(
    "/message",
    response_model=NonceOut,
    responses=_LIMITED,
    summary="A sign-in message (EIP-4361)",
)
def message(
    request: Request,
    ctx: Ctx,
    address: Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$")],
) -> NonceOut:
    """The message the wallet signs with ``personal_sign``; valid 10 minutes, once.

    429 when this client already has 30 pending messages (or 5 for this address)."""
    from eth_utils.address import to_checksum_address

    chain_id = ctx.chain.market.backend.chain_id if ctx.chain else 1
    client = client_key(request.client.host if request.client else None)
    try:
        text = ctx.auth.challenge(
            ctx.store,
            request.url.netloc,
            to_checksum_address(address),
            str(request.base_url),
            chain_id,
            client,
        )
    except AuthError as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(NONCE_TTL_S)}) from exc
    return NonceOut(message=text)


@router.post("/verify", response_model=SessionOut, responses=_ERR, summary="Sign in")
def verify(body: VerifyIn, request: Request, response: Response, ctx: Ctx) -> SessionOut:
    """Check the signed message; on success set the session cookie."""
    try:
        address = ctx.auth.verify(ctx.store, body.message, body.signature)
    except AuthError as exc:
        raise HTTPException(401, str(exc)) from exc
    response.set_cookie(
        COOKIE,
        ctx.auth.cookie(address),
        max_age=SESSION_TTL_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return SessionOut(address=address, house=_house(ctx, address))


@router.get("/session", response_model=SessionOut, summary="Who is signed in")
def session(request: Request, ctx: Ctx) -> SessionOut:
    """The signed-in address, or null (also for a malformed or expired cookie)."""
    address = ctx.auth.session(request.cookies.get(COOKIE))
    return SessionOut(address=address, house=_house(ctx, address))


@router.post("/logout", response_model=SessionOut, summary="Sign out")
def logout(request: Request, response: Response) -> SessionOut:
    """Forget the session cookie."""
    response.delete_cookie(
        COOKIE, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return SessionOut(address=None)
