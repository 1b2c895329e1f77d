"""Many transactions of one sender at once, for set-up on a JSON-RPC dev node.

Registering 1,000 members one ``addMember`` at a time waits for each receipt (~35 ms a
transaction on anvil, minutes when the machine is busy). The contract has no batch
registration, so the transactions themselves are pipelined instead: signed at
consecutive nonces, sent in JSON-RPC batches of :data:`BATCH`, and their receipts read
in batches once the last one is mined. Funding dev accounts goes the same way
(``anvil_setBalance`` in batches). The embedded chain (eth-tester) has no batch requests:
there every call is sent one by one, as before.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.types import RPCEndpoint

from gridpeer.chain.backend import Backend, Receipt, Reverted
from gridpeer.chain.client import GAS, MarketClient
from gridpeer.chain.codec import decode_revert, encode_call
from gridpeer.chain.web3_backend import Web3Backend

BATCH = 200
"""Requests per JSON-RPC batch."""

Call = tuple[str | None, bytes, int, int]
"""(to, calldata, value in wei, gas) of one transaction."""


def _rpc_backend(backend: Backend) -> Web3Backend | None:
    return backend if isinstance(backend, Web3Backend) and backend.kind == "rpc" else None


def _chunks(items: Sequence[Any], n: int = BATCH) -> list[Sequence[Any]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


def send_many(
    backend: Backend, key: LocalAccount, calls: Sequence[Call], timeout_s: float = 120.0
) -> list[Receipt]:
    """Send ``calls`` from ``key`` in this order and return their receipts (same order).

    On a JSON-RPC node they are signed at consecutive nonces and sent together; elsewhere
    one by one (:meth:`Backend.send`).

    Raises:
        Reverted: a transaction failed (the ones before it happened; later ones may have).
        TimeoutError: not all mined within ``timeout_s`` wall seconds.
    """
    rpc = _rpc_backend(backend)
    if rpc is None:
        return [backend.send(key, to, data, value, gas) for to, data, value, gas in calls]
    if not calls:
        return []
    fees = rpc.suggested_fees()
    nonce = rpc._nonce(key.address)
    raws, txs = [], []
    for i, (to, data, value, gas) in enumerate(calls):
        tx: dict[str, Any] = {
            "from": key.address,
            "data": data,
            "value": value,
            "gas": gas,
            "chainId": rpc.chain_id,
            "type": 2,
            "nonce": nonce + i,
        }
        if to is not None:
            tx["to"] = to
        raws.append(rpc._signed(key, tx, fees))
        txs.append(tx)
    hashes = [bytes(Web3.keccak(raw)) for raw in raws]
    w3 = rpc.w3
    try:
        for chunk in _chunks(raws):  # web3's batch API refuses sends: the raw requests
            sends = [(RPCEndpoint("eth_sendRawTransaction"), ["0x" + r.hex()]) for r in chunk]
            _check(w3.provider.make_batch_request(sends))  # type: ignore[attr-defined]
        rpc._nonces[key.address] = nonce + len(raws)
        receipts = _receipts(rpc, hashes, timeout_s)
    except Exception:
        rpc._nonces.pop(key.address, None)  # re-read from the node next time
        raise
    out = []
    for tx, r in zip(txs, receipts, strict=True):
        if int(r["status"]) != 1:
            rpc._raise_replay(tx, int(r["blockNumber"]))  # raises Reverted with its reason
        out.append(
            Receipt(
                tx_hash=bytes(r["transactionHash"]),
                block_number=int(r["blockNumber"]),
                block_hash=bytes(r["blockHash"]),
                gas_used=int(r["gasUsed"]),
                logs=tuple(Web3Backend._raw(log) for log in r["logs"]),
                contract_address=r.get("contractAddress"),
                fee_wei=int(r["gasUsed"]) * int(r.get("effectiveGasPrice", 0)),
            )
        )
    return out


def _receipts(rpc: Web3Backend, hashes: list[bytes], timeout_s: float) -> list[Any]:
    """The receipts of ``hashes``, once the last one is mined (same sender: in order)."""
    give_up = time.monotonic() + timeout_s
    delay = 0.005
    while rpc._receipt(hashes[-1]) is None:
        if time.monotonic() > give_up:
            raise TimeoutError(f"{len(hashes)} pipelined transactions not mined in {timeout_s} s")
        time.sleep(delay)
        delay = min(2 * delay, 0.2)
    w3 = rpc.w3
    out: list[Any] = []
    for chunk in _chunks(hashes):
        with w3.batch_requests() as batch:
            for h in chunk:
                batch.add(w3.eth.get_transaction_receipt(h))
            out += list(batch.execute())
    return out


def _check(answers: Any) -> None:
    """Raise on the first error in a JSON-RPC batch's answers.

    Raises:
        ConnectionError: the node refused a request (e.g. a nonce it did not expect).
    """
    for a in answers if isinstance(answers, list) else [answers]:
        if "error" in a:
            raise ConnectionError(f"JSON-RPC batch request failed: {a['error']}")


def fund_many(backend: Backend, addresses: Sequence[str], wei: int) -> None:
    """Give each of ``addresses`` ``wei`` more (dev chains only), in batches on a JSON-RPC
    node (anvil's ``anvil_setBalance``; other nodes one by one)."""
    rpc = _rpc_backend(backend)
    if rpc is None or "anvil" not in rpc.w3.client_version.lower():
        for a in addresses:
            backend.fund(a, wei)
        return
    w3 = rpc.w3
    for chunk in _chunks(list(addresses)):
        with w3.batch_requests() as batch:
            for a in chunk:
                batch.add(w3.eth.get_balance(to_checksum_address(a)))
            balances = [int(cast(int, b)) for b in batch.execute()]  # Wei
        sets = [
            (RPCEndpoint("anvil_setBalance"), [a, hex(b + wei)])
            for a, b in zip(chunk, balances, strict=True)
        ]
        _check(w3.provider.make_batch_request(sets))  # type: ignore[attr-defined]


def add_members(market: MarketClient, admin: LocalAccount, accounts: Sequence[str]) -> list[int]:
    """Register ``accounts`` as members of ``market``; returns their member indices."""
    gas = GAS.get("addMember", GAS["admin"])
    calls: list[Call] = [
        (market.address, encode_call("addMember", to_checksum_address(a)), 0, gas) for a in accounts
    ]
    try:
        receipts = send_many(market.backend, admin, calls)
    except Reverted as exc:
        raise decode_revert(exc.data) from None
    return [market._event_field(r, "idx") for r in receipts]
