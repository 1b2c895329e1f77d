"""The low-level chain interface every backend implements (embedded, JSON-RPC, pyrevm).

The typed market client (:mod:`gridpeer.chain.client`) speaks only this protocol, so the
same calls run on web3's ``EthereumTesterProvider``, any Ethereum JSON-RPC node, or
pyrevm in-process. Times are UTC unix seconds; amounts wei; gas in gas units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from eth_account.signers.local import LocalAccount


@dataclass(frozen=True)
class RawLog:
    """One log as the node returned it, with its position for cursors and reorg checks."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: bytes
    tx_hash: bytes
    log_index: int


@dataclass(frozen=True)
class Receipt:
    """A mined transaction: gas used (after refunds), logs, created contract if any."""

    tx_hash: bytes
    block_number: int
    block_hash: bytes
    gas_used: int
    logs: tuple[RawLog, ...]
    contract_address: str | None
    fee_wei: int = 0  # what the sender paid for gas


class Reverted(Exception):
    """A call or transaction reverted; ``data`` is the raw revert data."""

    def __init__(self, data: bytes) -> None:
        super().__init__("0x" + data.hex())
        self.data = data


class Backend(Protocol):
    """What the market client needs from a chain."""

    @property
    def chain_id(self) -> int:
        """EIP-155 chain id."""
        ...

    def send(self, key: LocalAccount, to: str | None, data: bytes, value: int, gas: int) -> Receipt:
        """Sign with ``key``, send, wait for the receipt; raise :class:`Reverted` on failure."""
        ...

    def call(self, to: str, data: bytes, sender: str | None = None) -> bytes:
        """Read-only call on the latest state; raise :class:`Reverted` on failure."""
        ...

    def get_logs(
        self, address: str, from_block: int, to_block: int, topics: Sequence[bytes] | None = None
    ) -> list[RawLog]:
        """Logs of ``address`` in blocks [from_block, to_block] (inclusive); with
        ``topics``, only those whose first topic (the event's signature hash) is one of
        them (filtered by the node)."""
        ...

    def block_number(self) -> int:
        """Number of the latest block."""
        ...

    def block_hash(self, number: int) -> bytes:
        """Hash of canonical block ``number`` (to detect reorgs under a log cursor)."""
        ...

    def now(self) -> int:
        """Timestamp of the latest block (UTC unix seconds)."""
        ...

    def set_time(self, ts: int) -> None:
        """Move chain time forward: the next transaction runs at ``ts`` (UTC unix s).

        Later transactions run at ``ts`` (pyrevm: until set again) or a little after it
        (embedded and JSON-RPC nodes follow their own clock from there).
        """
        ...

    def balance(self, address: str) -> int:
        """Ether balance in wei."""
        ...

    def fund(self, address: str, wei: int) -> None:
        """Give a dev account ``wei`` (test chains only)."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...
