"""Sign-In with Ethereum endpoints: get a message, post its signature, see the session."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from gridpeer.web.auth import COOKIE, SESSION_TTL_S, AuthError
from gridpeer.web.context import WebContext, get_context
from gridpeer.web.models import Problem
from gridpeer.web.models_market import NonceOut, SessionOut, VerifyIn

router = APIRouter(prefix="/api/auth", tags=["wallet"])
Ctx = Annotated[WebContext, Depends(get_context)]
_ERR: dict[int | str, dict[str, Any]] = {401: {"model": Problem}}


def _house(ctx: WebContext, address: str | None) -> str | None:
    return ctx.chain.house_of(address) if ctx.chain and address else None


@router.get("/message", response_model=NonceOut, summary="A sign-in message (EIP-4361)")
def message(
    request: Request,
    ctx: Ctx,
    address: Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$")],
) -> NonceOut:
    """The message the wallet signs with ``personal_sign``; valid 10 minutes, once."""
    from eth_utils.address import to_checksum_address

    chain_id = ctx.chain.market.backend.chain_id if ctx.chain else 1
    try:
        text = ctx.auth.challenge(
            request.url.netloc, to_checksum_address(address), str(request.base_url), chain_id
        )
    except AuthError as exc:
        raise HTTPException(429, str(exc)) from exc
    return NonceOut(message=text)


@router.post("/verify", response_model=SessionOut, responses=_ERR, summary="Sign in")
def verify(body: VerifyIn, response: Response, ctx: Ctx) -> SessionOut:
    """Check the signed message; on success set the session cookie."""
    try:
        address = ctx.auth.verify(body.message, body.signature)
    except AuthError as exc:
        raise HTTPException(401, str(exc)) from exc
    response.set_cookie(
        COOKIE, ctx.auth.cookie(address), max_age=SESSION_TTL_S, httponly=True, samesite="strict"
    )
    return SessionOut(address=address, house=_house(ctx, address))


@router.get("/session", response_model=SessionOut, summary="Who is signed in")
def session(request: Request, ctx: Ctx) -> SessionOut:
    """The signed-in address, or null."""
    address = ctx.auth.session(request.cookies.get(COOKIE))
    return SessionOut(address=address, house=_house(ctx, address))


@router.post("/logout", response_model=SessionOut, summary="Sign out")
def logout(response: Response) -> SessionOut:
    """Forget the session cookie."""
    response.delete_cookie(COOKIE)
    return SessionOut(address=None)
