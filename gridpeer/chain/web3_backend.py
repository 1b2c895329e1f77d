"""Backends over web3.py: the embedded ``EthereumTesterProvider`` and any JSON-RPC node.

Gas is always passed explicitly (estimating it halves throughput); logs are read by
narrow block ranges (never from block 0). Transactions are EIP-1559 (type 2), priced from
the node's ``eth_feeHistory`` (:mod:`gridpeer.chain.fees`). Nonces are tracked locally: the
cache advances only once the node accepted a transaction, is re-read from the node when a
send fails because another process used the same key, and is forgotten when a
transaction is given up. A transaction not mined within the policy's ``replace_after_s``
is replaced (same nonce, fees +12.5 % or more) until one version is mined.
"""

from __future__ import annotations

import ast
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.exceptions import BlockNotFound, ContractLogicError, TransactionNotFound
from web3.types import RPCEndpoint, TxReceipt, Wei

from gridpeer.chain.backend import RawLog, Receipt, Reverted
from gridpeer.chain.fees import FeePolicy, Fees, bump, suggest

log = logging.getLogger(__name__)

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


class NonceGap(ConnectionError):
    """The node's nonce for the sender is below a sent transaction's: the node lost the
    transactions before it (e.g. it restarted from older state), so this one can never be
    mined. Nothing of it happened; the nonce is re-read on the next send."""


class Web3Backend:
    """A chain reached through web3.py (embedded tester or JSON-RPC URL)."""

    def __init__(self, w3: Web3, kind: str, fees: FeePolicy | None = None) -> None:
        self.w3 = w3
        self.kind = kind  # "embedded" | "rpc"
        self.fee_policy = fees or FeePolicy()
        self._chain_id = int(w3.eth.chain_id)
        self._nonces: dict[str, int] = {}
        self._fees: Fees | None = None
        self._fees_until = 0.0  # time.monotonic() until which ``_fees`` is reused
        self.replaced = 0
        """Replacement transactions sent so far (stuck transactions re-priced)."""
        self.in_flight = 0  # transactions sent and not yet mined (metrics: tx pending)

    @classmethod
    def embedded(cls) -> Web3Backend:
        """A fresh in-memory chain (web3 ``EthereumTesterProvider``, py-evm)."""
        from web3 import EthereumTesterProvider

        return cls(Web3(EthereumTesterProvider()), "embedded")

    @classmethod
    def rpc(cls, url: str, timeout_s: float = 30.0, fees: FeePolicy | None = None) -> Web3Backend:
        """Any Ethereum JSON-RPC node over HTTP (anvil, Hardhat, geth, Besu, Ganache)."""
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout_s}))
        if not w3.is_connected():
            raise ConnectionError(f"no Ethereum JSON-RPC node at {url}")
        return cls(w3, "rpc", fees)

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def suggested_fees(self, fresh: bool = False) -> Fees:
        """EIP-1559 fees for a new transaction (wei per gas), from ``eth_feeHistory``.

        Reused for ``fee_policy.refresh_s`` wall seconds unless ``fresh``. A node without
        fee history (eth-tester) is priced from the latest block's base fee.
        """
        if not fresh and self._fees is not None and time.monotonic() < self._fees_until:
            return self._fees
        policy = self.fee_policy
        try:
            history: Any = self.w3.eth.fee_history(policy.history_blocks, "latest", [50])
        except Exception:  # a node without eth_feeHistory: priced from the base fee alone
            history = {}
        bases = [int(b) for b in history.get("baseFeePerGas") or []]
        if bases:
            next_base = bases[-1]  # the list ends with the next block's base fee
        else:
            next_base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        rewards = history.get("reward") or []
        ratios = history.get("gasUsedRatio") or []
        tips = [int(r[0]) for r, used in zip(rewards, ratios, strict=False) if r and used > 0]
        self._fees = suggest(next_base, tips, policy)
        self._fees_until = time.monotonic() + policy.refresh_s
        return self._fees

    def _nonce(self, address: str) -> int:
        if address not in self._nonces:
            self._nonces[address] = int(
                self.w3.eth.get_transaction_count(to_checksum_address(address), "pending")
            )
        return self._nonces[address]

    def _signed(self, key: LocalAccount, tx: dict[str, Any], fees: Fees) -> bytes:
        tx["maxFeePerGas"], tx["maxPriorityFeePerGas"] = fees.max_fee, fees.priority
        return bytes(key.sign_transaction(tx).raw_transaction)

    def _submit(
        self,
        key: LocalAccount,
        tx: dict[str, Any],
        fees: Fees,
        on_signed: Callable[[bytes], None] | None = None,
    ) -> bytes:
        """Send ``tx`` at the next nonce; the nonce cache advances once the node accepts it.
        ``on_signed(tx_hash)`` runs after signing, before the node sees the transaction."""
        for attempt in range(NONCE_RETRIES + 1):
            tx["nonce"] = self._nonce(key.address)
            raw = self._signed(key, tx, fees)
            if on_signed is not None:
                on_signed(bytes(Web3.keccak(raw)))
            try:
                h = bytes(self.w3.eth.send_raw_transaction(raw))
            except Exception:
                self._nonces.pop(key.address, None)
                # Another process sent with this key (the demo's web app and a house's
                # agent share dev keys; a wallet may too): retry at the node's count.
                if attempt < NONCE_RETRIES and self._nonce(key.address) != tx["nonce"]:
                    continue
                raise
            self._nonces[key.address] = tx["nonce"] + 1
            return h
        raise AssertionError("unreachable")  # pragma: no cover

    def _receipt(self, h: bytes) -> TxReceipt | None:
        try:
            return self.w3.eth.get_transaction_receipt(h)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    def _mined(
        self,
        key: LocalAccount,
        tx: dict[str, Any],
        fees: Fees,
        first: bytes,
        on_signed: Callable[[bytes], None] | None = None,
    ) -> TxReceipt:
        """Wait for one version of ``tx`` to be mined, replacing it when it is stuck.

        Raises:
            TimeoutError: no version mined within ``fee_policy.receipt_timeout_s``.
        """
        policy = self.fee_policy
        hashes = [first]
        t0 = time.monotonic()
        replace_at, give_up = t0 + policy.replace_after_s, t0 + policy.receipt_timeout_s
        gap_check = t0 + policy.gap_check_s
        delay = 0.002
        while True:
            for h in reversed(hashes):
                r = self._receipt(h)
                if r is not None:
                    return r
            now = time.monotonic()
            if now >= give_up:
                raise TimeoutError(
                    f"transaction {tx['nonce']} of {tx['from']} not mined in "
                    f"{policy.receipt_timeout_s:g} s ({len(hashes)} versions sent)"
                )
            if now >= min(gap_check, replace_at):
                self._check_gap(tx)
                gap_check = float("inf")
            if now >= replace_at:
                new = bump(fees, self.suggested_fees(fresh=True), policy)
                if new != fees:
                    raw = self._signed(key, tx, new)
                    if on_signed is not None:
                        on_signed(bytes(Web3.keccak(raw)))
                    try:
                        hashes.append(bytes(self.w3.eth.send_raw_transaction(raw)))
                    except Exception as exc:  # e.g. "nonce too low": a version was mined
                        log.info("replacement of nonce %s refused: %s", tx["nonce"], exc)
                    else:
                        self.replaced += 1
                        log.warning(
                            "transaction %s of %s not mined in %g s: replaced, max fee %s -> "
                            "%s wei/gas",
                            tx["nonce"],
                            tx["from"],
                            now - t0,
                            fees.max_fee,
                            new.max_fee,
                        )
                        fees = new
                replace_at = now + policy.replace_after_s
            time.sleep(min(delay, max(0.0, give_up - now)))
            delay = min(2 * delay, policy.poll_s)

    def _check_gap(self, tx: dict[str, Any]) -> None:
        """Raise :class:`NonceGap` when the node's pending nonce is below ``tx``'s."""
        pending = int(self.w3.eth.get_transaction_count(tx["from"], "pending"))
        if pending < tx["nonce"]:
            raise NonceGap(
                f"the node's nonce for {tx['from']} is {pending}, below transaction "
                f"{tx['nonce']}: it lost earlier transactions (restarted?)"
            )

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
        """:meth:`send`, calling ``on_signed(tx_hash)`` after signing each version of the
        transaction and before the node sees it (a nonce clash that makes it re-sign, or a
        fee replacement, gives a new hash)."""
        tx: dict[str, Any] = {
            "from": key.address,
            "data": data,
            "value": value,
            "gas": gas,
            "chainId": self._chain_id,
            "type": 2,
        }
        if to is not None:
            tx["to"] = to
        fees = self.suggested_fees()
        h = self._submit(key, tx, fees, on_signed)
        self.in_flight += 1
        try:
            r = self._mined(key, tx, fees, h, on_signed)
        except Exception:
            # given up or the node went away: ask it for the nonce again next time
            self._nonces.pop(key.address, None)
            raise
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
            fee_wei=int(r["gasUsed"]) * int(r["effectiveGasPrice"]),
        )

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        """The receipt of a mined transaction (logs empty if it failed); None if the node
        does not know it (never sent, dropped, or still pending)."""
        r = self._receipt(tx_hash)
        if r is None:
            return None
        logs = r["logs"] if r["status"] == 1 else []
        return Receipt(
            tx_hash=bytes(r["transactionHash"]),
            block_number=int(r["blockNumber"]),
            block_hash=bytes(r["blockHash"]),
            gas_used=int(r["gasUsed"]),
            logs=tuple(self._raw(log) for log in logs),
            contract_address=r.get("contractAddress"),
            fee_wei=int(r["gasUsed"]) * int(r.get("effectiveGasPrice", 0)),
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

    def get_logs(
        self, address: str, from_block: int, to_block: int, topics: Sequence[bytes] | None = None
    ) -> list[RawLog]:
        params: dict[str, Any] = {
            "address": to_checksum_address(address),
            "fromBlock": from_block,
            "toBlock": to_block,
        }
        if topics is not None:  # one position, any of these: [[t1, t2, ...]]
            params["topics"] = [["0x" + t.hex() for t in topics]]
        logs = self.w3.eth.get_logs(params)  # type: ignore[arg-type]
        return [self._raw(log) for log in logs]

    def deployment_block(self, address: str) -> int:
        """The first block in which ``address`` has code (binary search over
        ``eth_getCode``); 0 when the node keeps no old state to tell (not an archive node).

        Raises:
            ValueError: no contract at ``address`` now.
        """
        addr = to_checksum_address(address)
        hi = self.block_number()
        if not self.w3.eth.get_code(addr, hi):
            raise ValueError(f"no contract at {address} (block {hi})")
        lo = 0
        try:
            while lo < hi:
                mid = (lo + hi) // 2
                if self.w3.eth.get_code(addr, mid):
                    hi = mid
                else:
                    lo = mid + 1
        except Exception as exc:  # pruned state: read logs from the genesis block
            log.info("no old state to find %s's deployment block (%s): using 0", address, exc)
            return 0
        return lo

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def block_hash(self, number: int) -> bytes:
        return bytes(self.w3.eth.get_block(number)["hash"])

    def head_and_hash(self, number: int) -> tuple[int, bytes, bytes | None]:
        """The latest block's number and hash, and the hash of block ``number`` (None:
        no such block), in one JSON-RPC batch on a node (two calls on the embedded
        chain): a follower's reorg check and its look at the head in one round trip.

        Raises:
            ConnectionError: the node answered a request with an error.
        """
        if self.kind != "rpc":
            latest = self.w3.eth.get_block("latest")
            try:
                old: bytes | None = self.block_hash(number)
            except BlockNotFound:
                old = None
            return int(latest["number"]), bytes(latest["hash"]), old
        answers = self.w3.provider.make_batch_request(  # type: ignore[attr-defined]
            [
                (RPCEndpoint("eth_getBlockByNumber"), ["latest", False]),
                (RPCEndpoint("eth_getBlockByNumber"), [hex(number), False]),
            ]
        )
        for a in answers:
            if "error" in a:
                raise ConnectionError(f"JSON-RPC batch request failed: {a['error']}")
        latest, block = (a["result"] for a in answers)
        if latest is None:
            raise ConnectionError("the node has no latest block")
        old = None if block is None else bytes.fromhex(block["hash"][2:])
        return int(latest["number"], 16), bytes.fromhex(latest["hash"][2:]), old

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
