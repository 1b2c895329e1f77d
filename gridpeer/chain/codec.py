"""ABI encoding/decoding from the committed artifact (eth-abi, no web3 contract objects)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from gridpeer.chain.artifact import load_artifact
from gridpeer.chain.errors import REVERTS, ContractRevert, UnknownRevert


def _type(p: dict[str, Any]) -> str:
    if p["type"].startswith("tuple"):
        inner = ",".join(_type(c) for c in p["components"])
        return f"({inner}){p['type'][5:]}"
    return str(p["type"])


@dataclass(frozen=True)
class Fn:
    """One ABI function: selector, input and output types."""

    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    payable: bool


@dataclass(frozen=True)
class Ev:
    """One ABI event: topic0, names/types of indexed and data fields."""

    name: str
    topic: bytes
    indexed: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Abi:
    """The contract ABI indexed for fast encoding and decoding."""

    functions: dict[str, Fn]
    events: dict[bytes, Ev]
    errors: dict[bytes, tuple[str, tuple[tuple[str, str], ...]]]


@cache
def abi(name: str = "EnergyMarket") -> Abi:
    """Index the ABI of a committed artifact."""
    fns: dict[str, Fn] = {}
    evs: dict[bytes, Ev] = {}
    errs: dict[bytes, tuple[str, tuple[tuple[str, str], ...]]] = {}
    for item in load_artifact(name).abi:
        kind = item["type"]
        if kind not in ("function", "event", "error"):
            continue
        types = [_type(p) for p in item["inputs"]]
        sig = f"{item['name']}({','.join(types)})"
        if kind == "function":
            fns[item["name"]] = Fn(
                item["name"],
                keccak(text=sig)[:4],
                tuple(types),
                tuple(_type(p) for p in item["outputs"]),
                item["stateMutability"] == "payable",
            )
        elif kind == "event":
            idx = tuple((p["name"], _type(p)) for p in item["inputs"] if p["indexed"])
            dat = tuple((p["name"], _type(p)) for p in item["inputs"] if not p["indexed"])
            evs[keccak(text=sig)] = Ev(item["name"], keccak(text=sig), idx, dat)
        else:
            errs[keccak(text=sig)[:4]] = (
                item["name"],
                tuple((p["name"], _type(p)) for p in item["inputs"]),
            )
    return Abi(fns, evs, errs)


def encode_call(fn: str, *args: Any) -> bytes:
    """Calldata for ``fn(*args)``."""
    f = abi().functions[fn]
    return f.selector + encode(list(f.inputs), list(args))


def decode_output(fn: str, data: bytes) -> tuple[Any, ...]:
    """Decode the return data of ``fn``."""
    return tuple(decode(list(abi().functions[fn].outputs), data))


def decode_revert(data: bytes) -> ContractRevert:
    """Turn revert data into the matching :class:`ContractRevert` subclass instance."""
    known = abi().errors.get(data[:4])
    if known is None:
        if data[:4] == bytes.fromhex("08c379a0"):  # Error(string)
            return UnknownRevert({"reason": decode(["string"], data[4:])[0]}, data)
        return UnknownRevert({"data": "0x" + data.hex()}, data)
    name, fields = known
    values = decode([t for _, t in fields], data[4:])
    args = {
        n: to_checksum_address(v) if t == "address" else v
        for (n, t), v in zip(fields, values, strict=True)
    }
    return REVERTS[name](args, data)


def decode_event(topics: tuple[bytes, ...], data: bytes) -> tuple[str, dict[str, Any]] | None:
    """Decode a log of this contract into (event name, fields); None if not ours."""
    if not topics:
        return None
    ev = abi().events.get(topics[0])
    if ev is None:
        return None
    out: dict[str, Any] = {}
    for (n, t), topic in zip(ev.indexed, topics[1:], strict=True):
        v = decode([t], topic)[0]
        out[n] = to_checksum_address(v) if t == "address" else v
    values = decode([t for _, t in ev.data], data)
    for (n, t), v in zip(ev.data, values, strict=True):
        out[n] = to_checksum_address(v) if t == "address" else v
    return ev.name, out
