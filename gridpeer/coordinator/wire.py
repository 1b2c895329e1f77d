"""Signed orders as JSON (the body of ``POST /api/orders`` and of the MQTT intake).

The format is :mod:`gridpeer.chain.order_wire`'s (documented once in docs/market.md):
``{"order": {maker, sell, wh, price, start, end, nonce, expiry}, "signature": "0x…"}``,
integers as JSON numbers or decimal strings (energy Wh, price wei/kWh, times UTC unix s),
the maker's ``eth_signTypedData_v4`` signature (65 bytes, v 27/28 or 0/1). This module
only adds what the coordinator needs on top: the canonical body it stores and the order's
id, its EIP-712 digest (0x, 32 bytes), what the maker signed.
"""

from __future__ import annotations

import json
from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from gridpeer.chain.order_wire import WireError, decode, order_message, signature_hex
from gridpeer.chain.types import OrderTerms, SignedOrder

BadOrder = WireError
"""A body that is not a well-formed signed order; the message says what is wrong."""

__all__ = ["BadOrder", "body_json", "order_digest", "parse_body", "signature_hex", "terms_json"]


def parse_body(body: Any) -> SignedOrder:
    """A :class:`SignedOrder` from ``{"order": …, "signature": "0x…"}`` (parsed JSON).

    Raises:
        BadOrder: missing, unknown or malformed fields, integers out of range.
    """
    if not isinstance(body, dict):
        raise BadOrder('body must be {"order": {...}, "signature": "0x..."}')
    return decode(body)


def terms_json(t: OrderTerms) -> dict[str, Any]:
    """The JSON ``order`` object of ``t`` (price and premium as decimal strings: they may
    exceed 2^53)."""
    return {**order_message(t), "price": str(t.price), "premium": str(t.premium)}


def body_json(o: SignedOrder) -> str:
    """The canonical JSON body of a signed order (what the store keeps)."""
    return json.dumps({"order": terms_json(o.terms), "signature": signature_hex(o)})


def order_digest(typed_data: dict[str, Any]) -> str:
    """The EIP-712 digest (0x hex) of a full typed-data message: the order's id."""
    m = encode_typed_data(full_message=typed_data)
    return "0x" + keccak(b"\x19" + m.version + m.header + m.body).hex()
