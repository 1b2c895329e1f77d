"""Backends over web3.py: the embedded ``EthereumTesterProvider`` and any JSON-RPC node.

Gas is always passed explicitly (estimating it halves throughput); logs are read by
narrow block ranges (never from block 0); nonces are tracked locally and re-read from
the node when a send fails because another process used the same key.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound
from web3.types import Wei

from gridpeer.chain.backend import RawLog, Receipt, Reverted

GAS_PRICE = 10**9  # wei per gas (1 gwei) at least; twice the base fee at start
NONCE_RETRIES = 3
"""Times a transaction is re-signed after the node's nonce moved under us."""

_BYTES_LIT = re.compile(r"(b'.*'|b\".*\")", re.S)


def revert_data(exc: Exception) -> bytes | None:
    """Extract raw revert data from eth-tester's TransactionFailed or web3's errors."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, bytes):
        return data
    if type(exc).__name__ == "TransactionFailed":
        m = _BYTES_LIT.search(str(exc))
        if m:
            lit = ast.literal_eval(m.group(1))
            if isinstance(lit, bytes):
                return lit
        return b""
    return None


class Web3Backend:
    """A chain reached through web3.py (embedded tester or JSON-RPC URL)."""

    def __init__(self, w3: Web3, kind: str) -> None:
        self.w3 = w3
        self.kind = kind  # "embedded" | "rpc"
        self._chain_id = int(w3.eth.chain_id)
        self._nonces: dict[str, int] = {}
        self.in_flight = 0  # transactions sent and not yet mined (metrics: tx pending)
        # From the base fee, not eth_gasPrice: nodes suggest recent tips, and paying twice the
        # suggestion feeds back (anvil's suggestion doubled per session until funds ran out).
        base = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
        self._gas_price = max(GAS_PRICE, 2 * base)

    @classmethod
    def embedded(cls) -> Web3Backend:
        """A fresh in-memory chain (web3 ``EthereumTesterProvider``, py-evm)."""
        from web3 import EthereumTesterProvider

        return cls(Web3(EthereumTesterProvider()), "embedded")

    @classmethod
    def rpc(cls, url: str, timeout_s: float = 30.0) -> Web3Backend:
        """Any Ethereum JSON-RPC node over HTTP (anvil, Hardhat, geth, Besu, Ganache)."""
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout_s}))
        if not w3.is_connected():
            raise ConnectionError(f"no Ethereum JSON-RPC node at {url}")
        return cls(w3, "rpc")

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def _nonce(self, address: str) -> int:
        if address not in self._nonces:
            self._nonces[address] = int(
                self.w3.eth.get_transaction_count(to_checksum_address(address), "pending")
            )
        return self._nonces[address]

    def send(self, key: LocalAccount, to: str | None, data: bytes, value: int, gas: int) -> Receipt:
        return self.send_signed(key, to, data, value, gas, None)

    def send_signed(
        self,
        key: LocalAccount,
        to: str | None,
        data: bytes,
        value: int,
        gas: int,
        on_signed: Callable[[bytes], None] | None,
    ) -> Receipt:
        """:meth:`send`, calling ``on_signed(tx_hash)`` after signing and before the node
        sees the transaction (again with the new hash if a nonce clash makes it re-sign)."""
        tx: dict[str, Any] = {
            "from": key.address,
            "data": data,
            "value": value,
            "gas": gas,
            "gasPrice": self._gas_price,
            "chainId": self._chain_id,
        }
        if to is not None:
            tx["to"] = to
        for attempt in range(NONCE_RETRIES + 1):
            tx["nonce"] = self._nonce(key.address)
            signed = key.sign_transaction(tx)
            raw = signed.raw_transaction
            if on_signed is not None:
                on_signed(bytes(signed.hash))
            try:
                h = self.w3.eth.send_raw_transaction(raw)
                break
            except Exception:
                self._nonces.pop(key.address, None)
                # Another process sent with this key (the demo's web app and a house's
                # agent share dev keys; a wallet may too): retry at the node's count.
                if attempt < NONCE_RETRIES and self._nonce(key.address) != tx["nonce"]:
                    continue
                raise
        self._nonces[key.address] += 1
        self.in_flight += 1
        try:
            r = self.w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.002)
        finally:
            self.in_flight -= 1
        if r["status"] != 1:
            self._raise_replay(tx, int(r["blockNumber"]))
        return Receipt(
            tx_hash=bytes(r["transactionHash"]),
            block_number=int(r["blockNumber"]),
            block_hash=bytes(r["blockHash"]),
            gas_used=int(r["gasUsed"]),
            logs=tuple(self._raw(log) for log in r["logs"]),
            contract_address=r.get("contractAddress"),
            fee_wei=int(r["gasUsed"]) * int(r.get("effectiveGasPrice", self._gas_price)),
        )

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        """The receipt of a mined transaction (logs empty if it failed); None if the node
        does not know it (never sent, dropped, or still pending)."""
        try:
            r = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        logs = r["logs"] if r["status"] == 1 else []
        return Receipt(
            tx_hash=bytes(r["transactionHash"]),
            block_number=int(r["blockNumber"]),
            block_hash=bytes(r["blockHash"]),
            gas_used=int(r["gasUsed"]),
            logs=tuple(self._raw(log) for log in logs),
            contract_address=r.get("contractAddress"),
            fee_wei=int(r["gasUsed"]) * int(r.get("effectiveGasPrice", self._gas_price)),
        )

    def _raise_replay(self, tx: dict[str, Any], block: int) -> None:
        """Re-run a failed transaction as a call in its block's context to get its error.

        The call sees the state after the block (a reverted transaction changed nothing but
        the sender's nonce and balance) and the block's timestamp.
        """
        call: dict[str, Any] = {k: tx[k] for k in ("from", "data", "value", "gas") if k in tx}
        if "to" in tx:
            call["to"] = tx["to"]
        try:
            self.w3.eth.call(call, block_identifier=block)  # type: ignore[arg-type]
        except Exception as exc:
            data = revert_data(exc)
            if data is not None:
                raise Reverted(data) from exc
            raise
        raise Reverted(b"")

    def call(self, to: str, data: bytes, sender: str | None = None) -> bytes:
        params: dict[str, Any] = {"to": to, "data": data}
        if sender is not None:
            params["from"] = sender
        try:
            return bytes(self.w3.eth.call(params))  # type: ignore[arg-type]
        except (ContractLogicError, Exception) as exc:
            d = revert_data(exc)
            if d is None:
                raise
            raise Reverted(d) from exc

    @staticmethod
    def _raw(log: Any) -> RawLog:
        return RawLog(
            address=to_checksum_address(log["address"]),
            topics=tuple(bytes(t) for t in log["topics"]),
            data=bytes(log["data"]),
            block_number=int(log["blockNumber"]),
            block_hash=bytes(log["blockHash"]),
            tx_hash=bytes(log["transactionHash"]),
            log_index=int(log["logIndex"]),
        )

    def get_logs(self, address: str, from_block: int, to_block: int) -> list[RawLog]:
        logs = self.w3.eth.get_logs(
            {"address": to_checksum_address(address), "fromBlock": from_block, "toBlock": to_block}
        )
        return [self._raw(log) for log in logs]

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def block_hash(self, number: int) -> bytes:
        return bytes(self.w3.eth.get_block(number)["hash"])

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def set_time(self, ts: int) -> None:
        if ts <= self.now():
            raise ValueError(f"chain time only moves forward (now {self.now()}, asked {ts})")
        if self.kind == "embedded":
            # eth-tester mines a block at ts - 1; the next transaction runs at ts
            self.w3.provider.ethereum_tester.time_travel(ts)  # type: ignore[attr-defined]
        else:
            self.w3.provider.make_request("evm_setNextBlockTimestamp", [ts])  # type: ignore[arg-type]

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

    def fund(self, address: str, wei: int) -> None:
        if self.kind == "embedded":
            rich = max(self.w3.eth.accounts, key=self.w3.eth.get_balance)
            h = self.w3.eth.send_transaction(
                {"from": rich, "to": to_checksum_address(address), "value": Wei(wei), "gas": 21000}
            )
            self.w3.eth.wait_for_transaction_receipt(h)
            return
        hexwei = hex(self.balance(address) + wei)
        for method in ("anvil_setBalance", "hardhat_setBalance", "evm_setAccountBalance"):
            resp = self.w3.provider.make_request(method, [address, hexwei])  # type: ignore[arg-type]
            if "error" not in resp:
                return
        raise NotImplementedError("this node cannot fund accounts; fund them yourself")

    def close(self) -> None:
        self._nonces.clear()
