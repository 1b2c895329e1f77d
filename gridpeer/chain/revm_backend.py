"""In-process backend on pyrevm for large simulations (same bytecode, no node).

Every transaction is its own block; block time is whatever :meth:`set_time` last set
(the simulation clock drives it). Logs are kept in memory with synthetic block and
transaction hashes so the event API works unchanged.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from pyrevm import EVM, BlockEnv

from gridpeer.chain.backend import RawLog, Receipt, Reverted

_REVERT = re.compile(r"output: 0x([0-9a-fA-F]*)")
GENESIS_TIME = 1_700_000_000  # UTC unix s of block 0 unless told otherwise
CHAIN_ID = 1  # pyrevm's default CfgEnv chain id


class RevmBackend:
    """pyrevm EVM in this process."""

    def __init__(self, genesis_time: int = GENESIS_TIME) -> None:
        self.evm = EVM()
        self._number = 0
        self._time = genesis_time
        self._logs: list[RawLog] = []
        self._log_blocks: list[int] = []  # block number of each log, ascending
        self._hashes: list[bytes] = [self._block_hash(0)]
        self._tx_count = 0

    @property
    def chain_id(self) -> int:
        return CHAIN_ID

    @staticmethod
    def _block_hash(n: int) -> bytes:
        return keccak(b"gridpeer-revm-block" + n.to_bytes(8, "big"))

    def send(self, key: LocalAccount, to: str | None, data: bytes, value: int, gas: int) -> Receipt:
        self._number += 1
        self.evm.set_block_env(BlockEnv(number=self._number, timestamp=self._time))
        bhash = self._block_hash(self._number)
        self._hashes.append(bhash)
        self._tx_count += 1
        txh = keccak(b"gridpeer-revm-tx" + self._tx_count.to_bytes(8, "big"))
        created: str | None = None
        try:
            if to is None:
                created = to_checksum_address(
                    self.evm.deploy(key.address, data, value=value, gas=gas)
                )
            else:
                self.evm.message_call(key.address, to, data, value=value, gas=gas)
        except RuntimeError as exc:
            m = _REVERT.search(str(exc))
            raise Reverted(bytes.fromhex(m.group(1)) if m else b"") from exc
        res = self.evm.result
        assert res is not None
        logs = tuple(
            RawLog(
                address=to_checksum_address(log.address),
                topics=tuple(bytes.fromhex(t[2:]) for t in log.topics),
                data=log.data[1],
                block_number=self._number,
                block_hash=bhash,
                tx_hash=txh,
                log_index=i,
            )
            for i, log in enumerate(res.logs)
        )
        self._logs.extend(logs)
        self._log_blocks.extend(log.block_number for log in logs)
        return Receipt(txh, self._number, bhash, int(res.gas_used), logs, created)

    def call(self, to: str, data: bytes, sender: str | None = None) -> bytes:
        try:
            return bytes(
                self.evm.message_call(sender or "0x" + "00" * 20, to, data, is_static=True)
            )
        except RuntimeError as exc:
            m = _REVERT.search(str(exc))
            raise Reverted(bytes.fromhex(m.group(1)) if m else b"") from exc

    def get_logs(
        self, address: str, from_block: int, to_block: int, topics: Sequence[bytes] | None = None
    ) -> list[RawLog]:
        addr = to_checksum_address(address)
        lo = bisect.bisect_left(self._log_blocks, from_block)
        hi = bisect.bisect_right(self._log_blocks, to_block)
        wanted = None if topics is None else set(topics)
        return [
            log
            for log in self._logs[lo:hi]
            if log.address == addr
            and (wanted is None or (bool(log.topics) and log.topics[0] in wanted))
        ]

    def block_number(self) -> int:
        return self._number

    def block_hash(self, number: int) -> bytes:
        if not 0 <= number <= self._number:
            raise ValueError(f"no block {number} (latest is {self._number})")
        return self._hashes[number]

    def now(self) -> int:
        return self._time

    def set_time(self, ts: int) -> None:
        if ts < self._time:
            raise ValueError(f"chain time only moves forward (now {self._time}, asked {ts})")
        self._time = ts

    def balance(self, address: str) -> int:
        return int(self.evm.get_balance(address))

    def fund(self, address: str, wei: int) -> None:
        self.evm.set_balance(address, self.balance(address) + wei)

    def close(self) -> None:
        self._logs.clear()
        self._log_blocks.clear()
