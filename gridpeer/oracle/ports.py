"""What the oracle needs from a chain, as one small interface.

:class:`ChainView` is implemented by :mod:`gridpeer.oracle.chain_adapter` over the
chain layer's client (embedded, RPC/anvil) and by an in-memory fake in the tests.
Units: energy Wh, price wei per kWh, times UTC-aware datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class BlockRef:
    """A block by number and hash (hex string, ``0x``-prefixed)."""

    number: int
    hash: str


@dataclass(frozen=True)
class TradeEvent:
    """A trade created on chain (offer bought, request filled or batch match).

    Attributes:
        block: block holding the event.
        tx_hash: transaction hash (hex).
        log_index: index of the log in its block.
        trade_id: on-chain trade id.
        seller: house id of the seller (OUT relay).
        buyer: house id of the buyer (IN relay).
        energy_wh: contracted energy, Wh.
        price_wei_per_kwh: price, wei per kWh.
        window_start: UTC start of the delivery window.
        window_end: UTC end of the delivery window.
        grace_s: this trade's grace after ``window_end`` before the buyer may reclaim, s
            (fixed on chain when its order was posted); None: the contract's current one.
    """

    block: BlockRef
    tx_hash: str
    log_index: int
    trade_id: int
    seller: str
    buyer: str
    energy_wh: int
    price_wei_per_kwh: int
    window_start: datetime
    window_end: datetime
    grace_s: int | None = None


class ChainView(Protocol):
    """The chain as the oracle sees it. Calls may block (RPC)."""

    def head(self) -> int:
        """Number of the latest block."""
        ...

    def block_hash(self, number: int) -> str | None:
        """Canonical hash of block ``number``; None if it does not exist (any more)."""
        ...

    def head_and_hash(self, number: int) -> tuple[BlockRef, str | None]:
        """The latest block, and the canonical hash of block ``number`` (None if it does
        not exist any more), read together (one round trip where the node can)."""
        ...

    def trade_events(self, from_block: int, to_block: int) -> Sequence[TradeEvent]:
        """Trade events in blocks ``[from_block, to_block]``, in chain order."""
        ...

    def grace_seconds(self) -> int:
        """The contract's grace after a window's end before the buyer may reclaim, s."""
        ...

    def is_settled(self, trade_id: int) -> bool:
        """True if the trade is already confirmed (or reclaimed, or resolved) on chain."""
        ...

    def is_disputed(self, trade_id: int) -> bool:
        """True if the trade is open and disputed on chain."""
        ...

    def open_dispute(self, trade_id: int, seller_wh: int, buyer_wh: int) -> str:
        """Freeze an open trade whose meters disagree (oracle role); returns the tx hash.

        Must raise if the chain rejects it (already disputed, settled or too late)."""
        ...

    def confirm_delivery(self, trade_id: int, delivered_wh: int) -> str:
        """Confirm ``delivered_wh`` Wh for ``trade_id`` (oracle role); returns the tx hash.

        Must raise if the chain rejects it (e.g. already settled)."""
        ...


SKIPPED_UNKNOWN_OR_SETTLED = 1
SKIPPED_TOO_MUCH = 2
SKIPPED_OUTSIDE_WINDOW = 3


@dataclass(frozen=True)
class BatchResult:
    """One mined ``confirmBatch``: its tx hash, the trade ids it settled and the ones it
    skipped ({trade id: reason}: 1 unknown or already settled, 2 more Wh than contracted,
    3 outside the trade's settlement time)."""

    tx_hash: str
    confirmed: tuple[int, ...]
    skipped: dict[int, int]


class BatchConfirmer(Protocol):
    """A chain that settles many trades in one transaction (``confirmBatch``)."""

    def confirm_batch(
        self, deliveries: Sequence[tuple[int, int]], on_signed: Callable[[str], None]
    ) -> BatchResult:
        """Confirm ``(trade_id, delivered_wh)`` pairs in one transaction (oracle role).

        ``on_signed(tx_hash)`` is called once the transaction is signed and before it is
        sent (if the chain signs locally), so the caller can record it first. A trade the
        contract refuses is skipped (see :class:`BatchResult`), the others settle. Raises
        if the transaction itself fails (node unreachable, wrong key)."""
        ...
