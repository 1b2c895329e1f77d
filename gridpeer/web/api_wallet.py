"""What a member needs besides the coordinator's API to trade in the centralized and
hybrid markets: deposit credit (buy orders are escrowed from it when a batch settles),
the last consumed order nonce, and (demo only) a demo house's EIP-712 order signature.

A real member's wallet signs its orders itself (``eth_signTypedData_v4``, typed data from
``GET /api/orders/typed-data``); the server never holds a member's key outside the
demo's dev accounts. Units: money wei, energy Wh, prices wei per kWh.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from gridpeer.chain import order_wire
from gridpeer.web.api_market import _actor, _member, _perform, hub_of
from gridpeer.web.context import WebContext, get_context
from gridpeer.web.models import Problem
from gridpeer.web.models_market import ActionOut, Signer

router = APIRouter(prefix="/api/market", tags=["market"])
Ctx = Annotated[WebContext, Depends(get_context)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem},
    403: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
    503: {"model": Problem},
}
Address = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="0x address")]


class DepositIn(BaseModel):
    """Add ``value`` wei to the signer's market credit."""

    model_config = ConfigDict(extra="forbid")
    signer: Signer = "wallet"
    value: int = Field(ge=1, le=2**96 - 1, description="wei to deposit")


class OrderNonceOut(BaseModel):
    """The last order nonce the contract consumed for ``address``: a new signed order
    needs a larger one (and larger than those of the member's orders still open)."""

    address: str
    last_consumed: int
    member_index: int = Field(
        0, description="the member's index on the contract (0: not a member); an order's partner"
    )


class DemoSignIn(BaseModel):
    """Order terms (the wire's ``order`` object) for a demo house to sign."""

    model_config = ConfigDict(extra="forbid")
    signer: Annotated[str, Field(pattern=r"^demo:[A-Za-z0-9_-]{1,32}$")]
    order: dict[str, Any] = Field(description="the EIP-712 Order fields (docs/market.md)")


class SignatureOut(BaseModel):
    """An EIP-712 order signature: 0x + r (32 B) + s (32 B) + v (1 B)."""

    signature: str


@router.post("/deposit", response_model=ActionOut, responses=_ERRORS, summary="Deposit credit")
async def deposit(body: DepositIn, ctx: Ctx, request: Request) -> ActionOut:
    """Add ``value`` wei to the caller's market credit (pays its matched buy orders)."""
    hub = hub_of(ctx)
    address, house = await _actor(ctx, request, body.signer)
    await _member(hub, address)
    return await _perform(ctx, address, house, "deposit", None, value=body.value)


@router.get(
    "/nonce/{address}", response_model=OrderNonceOut, responses=_ERRORS, summary="Order nonce"
)
async def order_nonce(address: Address, ctx: Ctx) -> OrderNonceOut:
    """The last batch-order nonce the contract consumed for ``address``."""
    hub = hub_of(ctx)
    idx, _active, last = await hub.call(hub.market.member, address)
    return OrderNonceOut(address=address, last_consumed=last, member_index=idx)


@router.post(
    "/orders/demo-signature",
    response_model=SignatureOut,
    responses=_ERRORS,
    summary="Sign an order as a demo house",
)
async def demo_signature(body: DemoSignIn, ctx: Ctx) -> SignatureOut:
    """Sign order terms with a demo house's dev key (demo only; a wallet signs its own)."""
    hub = hub_of(ctx)
    house = body.signer.removeprefix("demo:")
    key = hub.demo_keys.get(house)
    if key is None:
        why = "no demo accounts on this server" if not hub.demo_keys else "unknown house"
        raise HTTPException(403, f"cannot sign as demo house {house!r}: {why}")
    try:
        terms = order_wire.parse_terms(body.order)
    except order_wire.WireError as exc:
        raise HTTPException(422, str(exc)) from exc
    if terms.maker.lower() != key.address.lower():
        raise HTTPException(403, f"order.maker {terms.maker} is not demo house {house!r}")
    signed = order_wire.sign(key, hub.market.domain(), terms)
    return SignatureOut(signature=order_wire.signature_hex(signed))
