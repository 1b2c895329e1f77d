"""JSON shapes of the coordinator API (signed orders, clearings). Energy Wh, prices wei
per kWh as decimal strings (a uint64 may exceed 2^53), times UTC unix seconds unless
named ``…_at`` (UTC ISO 8601)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Int = int | str
"""An integer as a JSON number or a decimal string."""


class OrderTermsIn(BaseModel):
    """The EIP-712 ``Order`` a member signs (``eth_signTypedData_v4``)."""

    maker: str = Field(description="the member's address (0x…), who signs")
    sell: bool = Field(description="true: sell (minimum price); false: buy (maximum price)")
    wh: Int = Field(description="energy, Wh (uint32, ≥ 1)")
    price: Int = Field(description="limit price, wei per kWh (uint64, ≥ 1)")
    start: Int = Field(description="delivery window start, UTC unix s")
    end: Int = Field(description="delivery window end, UTC unix s")
    nonce: Int = Field(description="above the maker's last used nonce (1 … 2^31 - 1)")
    expiry: Int = Field(description="UTC unix s; at or after the window's start")
    prefs: Int = Field(0, description="buy only: 1 partner | 2 local | 4 green (bit mask)")
    premium: Int = Field(0, description="wei per kWh added for energy that honours prefs")
    partner: Int = Field(0, description="the partner's member index (1-based), with prefs & 1")


class SignedOrderIn(BaseModel):
    """A signed order: its terms and the maker's 65-byte signature (r ‖ s ‖ v)."""

    order: OrderTermsIn
    signature: str = Field(description="0x + 130 hex digits (eth_signTypedData_v4 result)")


class OrderAccepted(BaseModel):
    """An order the coordinator stored; it will be matched and settled, or dropped with a
    reason (see ``GET /api/orders``). Submitting a stored order again (same signature)
    answers 202 again, with the order's state now."""

    id: str = Field(description="the order's EIP-712 digest (0x…)")
    state: Literal["accepted", "matched", "settled", "dropped"] = Field(
        "accepted", description="accepted when new; a resubmitted order's current state"
    )


class SignedOrderOut(BaseModel):
    """A submitted order and where it is: ``accepted`` (waiting for its window's gate),
    ``matched`` (in a match, not yet on chain), ``settled`` (its batch is mined;
    ``trade_ids`` name the on-chain trades), ``dropped`` (``reason`` says why)."""

    id: str
    order: dict[str, Any] = Field(description="the signed terms (price as a decimal string)")
    state: Literal["accepted", "matched", "settled", "dropped"]
    reason: str = Field(description="why it was dropped (empty otherwise)")
    trade_ids: list[str] = Field(description="on-chain trade ids (decimal strings)")
    matched_wh: int = Field(description="Wh matched (or settled) so far")
    house: str
    created_at: str = Field(description="when it was accepted, UTC ISO 8601")


class TypedDataOut(BaseModel):
    """What ``eth_signTypedData_v4`` needs besides the message (the order's terms)."""

    domain: dict[str, Any]
    types: dict[str, list[dict[str, str]]]
    primaryType: Literal["Order"] = "Order"


class ClearingOut(BaseModel):
    """A settled batch of the coordinator: its window, price, volume and transaction."""

    window_start: int = Field(description="delivery window start, UTC unix s")
    window_end: int = Field(description="delivery window end, UTC unix s")
    price_wei_per_kwh: str = Field(
        description="clearing price, wei per kWh (volume-weighted mean when trades differ)"
    )
    volume_wh: int
    trades: int
    tx: str = Field(description="the settleBatch transaction hash (0x…)")
    mined_at: str | None = Field(description="when its block was mined, UTC ISO 8601")
