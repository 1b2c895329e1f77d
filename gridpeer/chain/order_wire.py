"""Wire format of signed orders (centralized and hybrid markets), pure.

One JSON object, the same over HTTP (``POST /api/orders``) and MQTT
(``gridpeer/<community>/orders/<house>``)::

    {"order": {"maker": "0x…", "sell": true, "wh": 500, "price": 150000000000000,
               "start": 1767265200, "end": 1767268800, "nonce": 7, "expiry": 1767265200},
     "signature": "0x<r 32 B><s 32 B><v 1 B>"}

``order`` holds the EIP-712 ``Order`` message field by field (energy Wh, price wei per
kWh, times UTC unix seconds; every integer is sent as a JSON number, and read from a
JSON number or a decimal string). The trading-preference fields ``prefs`` (bit mask:
1 partner, 2 local, 4 green), ``premium`` (wei/kWh) and ``partner`` (member index) are
signed too; on the wire they are sent only when not 0, and read as 0 when absent;
``signature`` is the maker's EIP-712 signature as 65 bytes in hex (r, s, v with
v = 27 or 28; 0 or 1 are read as 27 or 28). docs/market.md ("Wire format") is the
reference; this module is its one implementation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from gridpeer.chain.types import PREF_PARTNER, OrderTerms, SignedOrder

DOMAIN_TYPES: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
"""EIP-712 ``EIP712Domain`` of the market contract."""

ORDER_TYPES: list[dict[str, str]] = [
    {"name": "maker", "type": "address"},
    {"name": "sell", "type": "bool"},
    {"name": "wh", "type": "uint32"},
    {"name": "price", "type": "uint64"},
    {"name": "start", "type": "uint40"},
    {"name": "end", "type": "uint40"},
    {"name": "nonce", "type": "uint32"},
    {"name": "expiry", "type": "uint40"},
    {"name": "prefs", "type": "uint8"},
    {"name": "premium", "type": "uint64"},
    {"name": "partner", "type": "uint16"},
]
"""EIP-712 ``Order``: the fields a member signs, in the contract's order."""

FIELDS = tuple(f["name"] for f in ORDER_TYPES)
PREF_FIELDS = ("prefs", "premium", "partner")
"""Trading-preference fields: optional on the wire (absent = 0), always signed."""
REQUIRED = tuple(f for f in FIELDS if f not in PREF_FIELDS)
_BITS = {
    "wh": 32,
    "price": 64,
    "start": 40,
    "end": 40,
    "nonce": 32,
    "expiry": 40,
    "prefs": 3,
    "premium": 64,
    "partner": 16,
}
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SIG = re.compile(r"^0x[0-9a-fA-F]{130}$")
SIGNATURE_B = 65
"""Bytes of a signature on the wire: r (32), s (32), v (1)."""


class WireError(ValueError):
    """A payload that is not a signed order in the wire format; the message says why."""


def domain(chain_id: int, contract: str) -> dict[str, Any]:
    """The market contract's EIP-712 domain on chain ``chain_id``."""
    return {
        "name": "gridpeer",
        "version": "1",
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(contract),
    }


def order_message(terms: OrderTerms) -> dict[str, Any]:
    """The EIP-712 ``Order`` message (and the wire's ``order`` object) of ``terms``."""
    return {
        "maker": to_checksum_address(terms.maker),
        "sell": terms.sell,
        "wh": terms.wh,
        "price": terms.price,
        "start": terms.start,
        "end": terms.end,
        "nonce": terms.nonce,
        "expiry": terms.expiry,
        "prefs": terms.prefs,
        "premium": terms.premium,
        "partner": terms.partner,
    }


def typed_data(dom: Mapping[str, Any], terms: OrderTerms) -> dict[str, Any]:
    """Full EIP-712 typed data of ``terms`` in ``dom`` (``eth_signTypedData_v4``'s input)."""
    return {
        "types": {"EIP712Domain": DOMAIN_TYPES, "Order": ORDER_TYPES},
        "primaryType": "Order",
        "domain": dict(dom),
        "message": order_message(terms),
    }


def sign(key: LocalAccount, dom: Mapping[str, Any], terms: OrderTerms) -> SignedOrder:
    """``terms`` signed with ``key`` in domain ``dom`` (EIP-712)."""
    sig = Account.sign_message(encode_typed_data(full_message=typed_data(dom, terms)), key.key)
    return SignedOrder(terms, sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big"))


def recover(dom: Mapping[str, Any], signed: SignedOrder) -> str:
    """Checksummed address that signed ``signed`` in domain ``dom``."""
    msg = encode_typed_data(full_message=typed_data(dom, signed.terms))
    vrs = (signed.v, int.from_bytes(signed.r, "big"), int.from_bytes(signed.s, "big"))
    return str(to_checksum_address(Account.recover_message(msg, vrs=vrs)))


def signature_hex(signed: SignedOrder) -> str:
    """``0x`` + r (32 B) + s (32 B) + v (1 B) in lower-case hex: 132 characters."""
    return "0x" + (signed.r + signed.s + bytes([signed.v])).hex()


def to_wire(signed: SignedOrder) -> dict[str, Any]:
    """The wire object ``{"order": {...}, "signature": "0x…"}`` of a signed order (the
    preference fields only when not 0)."""
    order = order_message(signed.terms)
    for name in PREF_FIELDS:
        if not order[name]:
            del order[name]
    return {"order": order, "signature": signature_hex(signed)}


def encode(signed: SignedOrder) -> bytes:
    """The wire bytes: compact JSON (no spaces), UTF-8, fields in the EIP-712 order."""
    return json.dumps(to_wire(signed), separators=(",", ":")).encode()


def _uint(name: str, value: object) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)  # a decimal string is read too (what a JavaScript client may send)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"order.{name} must be a JSON integer or decimal string, got {value!r}")
    if not 0 <= value < 1 << _BITS[name]:
        raise WireError(f"order.{name} = {value} does not fit in uint{_BITS[name]}")
    return value


def check_preferences(terms: OrderTerms) -> None:
    """Raise :class:`WireError` unless ``terms``' trading preferences are consistent: only
    a buy has them, a premium needs a preference, and ``partner`` is set (a member index,
    1-based) exactly when ``prefs`` has the partner bit (1)."""
    if terms.sell and (terms.prefs or terms.premium or terms.partner):
        raise WireError("order.prefs, premium and partner are for buy orders (sell: false) only")
    if terms.premium and not terms.prefs:
        raise WireError(
            "order.premium needs a preference (order.prefs: 1 partner, 2 local, 4 green)"
        )
    if bool(terms.prefs & PREF_PARTNER) != bool(terms.partner):
        raise WireError(
            "order.partner (a member index, from 1) must be given exactly when order.prefs "
            f"has the partner bit (1); got prefs {terms.prefs}, partner {terms.partner}"
        )


def parse_terms(order: object) -> OrderTerms:
    """The :class:`OrderTerms` of a wire ``order`` object.

    Raises:
        WireError: not an object, a missing or unknown field, a wrong type, out of range,
            inconsistent preferences (:func:`check_preferences`).
    """
    if not isinstance(order, Mapping):
        raise WireError("order must be a JSON object")
    missing = [f for f in REQUIRED if f not in order]
    extra = sorted(set(order) - set(FIELDS))
    if missing or extra:
        raise WireError(
            "order fields must be "
            + ", ".join(REQUIRED)
            + " and optionally "
            + ", ".join(PREF_FIELDS)
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(extra)}" if extra else "")
        )
    maker, sell = order["maker"], order["sell"]
    if not isinstance(maker, str) or not _ADDRESS.match(maker):
        raise WireError(f"order.maker must be a 0x address (40 hex digits), got {maker!r}")
    if not isinstance(sell, bool):
        raise WireError(f"order.sell must be true or false, got {sell!r}")
    n = {name: _uint(name, order.get(name, 0)) for name in _BITS}
    terms = OrderTerms(
        to_checksum_address(maker),
        sell,
        n["wh"],
        n["price"],
        n["start"],
        n["end"],
        n["nonce"],
        n["expiry"],
        n["prefs"],
        n["premium"],
        n["partner"],
    )
    check_preferences(terms)
    return terms


def parse_signature(text: object) -> tuple[int, bytes, bytes]:
    """(v, r, s) of a wire signature (65 bytes in hex; v 0/1 read as 27/28).

    Raises:
        WireError: not 0x + 130 hex digits, or v not one of 0, 1, 27, 28.
    """
    if not isinstance(text, str) or not _SIG.match(text):
        raise WireError("signature must be 0x + 130 hex digits (r, s, v: 65 bytes)")
    raw = bytes.fromhex(text[2:])
    v = raw[64] + 27 if raw[64] < 2 else raw[64]
    if v not in (27, 28):
        raise WireError(f"signature v must be 27 or 28, got {raw[64]}")
    return v, raw[:32], raw[32:64]


def decode(payload: bytes | str | Mapping[str, Any]) -> SignedOrder:
    """A :class:`SignedOrder` from wire bytes, text or an already parsed object.

    Checks the format only; whether the signature is the maker's is the coordinator's
    check (:func:`recover`).

    Raises:
        WireError: not JSON, not an object with exactly ``order`` and ``signature``, or
            a field that is missing, unknown, mistyped or out of range.
    """
    if isinstance(payload, bytes | str):
        try:
            obj: object = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise WireError(f"not JSON: {exc}") from exc
    else:
        obj = payload
    if not isinstance(obj, Mapping) or set(obj) != {"order", "signature"}:
        raise WireError('a signed order is a JSON object {"order": {...}, "signature": "0x…"}')
    v, r, s = parse_signature(obj["signature"])
    return SignedOrder(parse_terms(obj["order"]), v, r, s)
