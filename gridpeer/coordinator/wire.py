"""Signed orders as JSON (the body of ``POST /api/orders`` and of the MQTT intake).

``{"order": {"maker": "0x…", "sell": true, "wh": 500, "price": "200000000000000",
"start": 1767268800, "end": 1767272400, "nonce": 7, "expiry": 1767268800},
"signature": "0x<r 32 bytes><s 32 bytes><v 1 byte>"}``: the fields of the EIP-712
``Order`` (integers as JSON numbers or decimal strings; energy Wh, price wei/kWh, times
UTC unix s) and the maker's ``eth_signTypedData_v4`` signature (65 bytes, v 27/28 or 0/1).
The order's id is its EIP-712 digest (0x, 32 bytes), what the maker signed.
"""

from __future__ import annotations

import json
from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from gridpeer.chain.types import OrderTerms, SignedOrder

ORDER_FIELDS = ("maker", "sell", "wh", "price", "start", "end", "nonce", "expiry")
_BITS = {"wh": 32, "price": 64, "start": 40, "end": 40, "nonce": 32, "expiry": 40}
"""Width of each integer field in the EIP-712 ``Order`` (uint<N>)."""


class BadOrder(ValueError):
    """A body that is not a well-formed signed order; the message says what is wrong."""


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise BadOrder(f"order.{name} must be an integer, not a boolean")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and value.strip().isdigit():
        n = int(value.strip())
    else:
        raise BadOrder(f"order.{name} must be a whole number (JSON number or decimal string)")
    if not 0 <= n < 1 << _BITS[name]:
        raise BadOrder(f"order.{name} must be between 0 and {(1 << _BITS[name]) - 1}")
    return n


def parse_terms(order: Any) -> OrderTerms:
    """The :class:`OrderTerms` of a JSON ``order`` object. Raises :class:`BadOrder`."""
    if not isinstance(order, dict):
        raise BadOrder("order must be an object with " + ", ".join(ORDER_FIELDS))
    missing = [f for f in ORDER_FIELDS if f not in order]
    if missing:
        raise BadOrder("order is missing " + ", ".join(missing))
    extra = sorted(set(order) - set(ORDER_FIELDS))
    if extra:
        raise BadOrder("order has unknown fields " + ", ".join(extra))
    maker = order["maker"]
    if not isinstance(maker, str) or not is_address(maker):
        raise BadOrder("order.maker must be a 0x address")
    if not isinstance(order["sell"], bool):
        raise BadOrder("order.sell must be true (sell) or false (buy)")
    ints = {k: _int(k, order[k]) for k in _BITS}
    return OrderTerms(to_checksum_address(maker), order["sell"], **ints)


def parse_signature(sig: Any) -> tuple[int, bytes, bytes]:
    """(v, r, s) of a 65-byte 0x signature (v 27/28, or 0/1 as some wallets give)."""
    if not isinstance(sig, str) or not sig.startswith("0x"):
        raise BadOrder("signature must be a 0x hex string of 65 bytes")
    try:
        raw = bytes.fromhex(sig[2:])
    except ValueError:
        raise BadOrder("signature must be a 0x hex string of 65 bytes") from None
    if len(raw) != 65:
        raise BadOrder(f"signature must be 65 bytes, got {len(raw)}")
    v = raw[64] + 27 if raw[64] < 27 else raw[64]
    if v not in (27, 28):
        raise BadOrder("signature's v must be 27 or 28")
    return v, raw[:32], raw[32:64]


def parse_body(body: Any) -> SignedOrder:
    """A :class:`SignedOrder` from ``{"order": …, "signature": "0x…"}`` (parsed JSON).

    Raises:
        BadOrder: missing or malformed fields, integers out of range.
    """
    if not isinstance(body, dict) or "order" not in body or "signature" not in body:
        raise BadOrder('body must be {"order": {...}, "signature": "0x..."}')
    terms = parse_terms(body["order"])
    v, r, s = parse_signature(body["signature"])
    return SignedOrder(terms, v, r, s)


def terms_json(t: OrderTerms) -> dict[str, Any]:
    """The JSON ``order`` object of ``t`` (price as a decimal string: it may exceed 2^53)."""
    return {
        "maker": to_checksum_address(t.maker),
        "sell": t.sell,
        "wh": t.wh,
        "price": str(t.price),
        "start": t.start,
        "end": t.end,
        "nonce": t.nonce,
        "expiry": t.expiry,
    }


def signature_hex(o: SignedOrder) -> str:
    """The 65-byte 0x signature ``r || s || v`` of a signed order."""
    return "0x" + (o.r + o.s + bytes([o.v])).hex()


def body_json(o: SignedOrder) -> str:
    """The canonical JSON body of a signed order (what the store keeps)."""
    return json.dumps({"order": terms_json(o.terms), "signature": signature_hex(o)})


def order_digest(typed_data: dict[str, Any]) -> str:
    """The EIP-712 digest (0x hex) of a full typed-data message: the order's id."""
    m = encode_typed_data(full_message=typed_data)
    return "0x" + keccak(b"\x19" + m.version + m.header + m.body).hex()
