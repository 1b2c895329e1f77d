"""Following a chain from the last processed block, with confirmations and reorgs (pure).

The oracle remembers the hashes of the last processed blocks (its *cursor history*).
Before reading further it checks that the newest remembered block is still canonical;
if not, it walks back to the newest remembered block that is (the common ancestor) and
re-reads from there. New events are read by block range (``eth_getLogs``), never by a
full scan, and only up to ``head - confirmations``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gridpeer.chain.index import ReorgTooDeep, next_chunk
from gridpeer.chain.index import common_ancestor as chain_ancestor
from gridpeer.oracle.ports import BlockRef

__all__ = ["ReorgTooDeep", "common_ancestor", "next_range"]


def common_ancestor(
    history: Sequence[BlockRef], canonical_hash: Callable[[int], str | None]
) -> BlockRef | None:
    """The block to rewind to, or None when the newest remembered block is canonical
    (:func:`gridpeer.chain.index.common_ancestor` on the oracle's block refs).

    Args:
        history: remembered processed blocks, oldest first.
        canonical_hash: current canonical hash of a block number (None if absent).

    Raises:
        ReorgTooDeep: if none of the remembered blocks is canonical.
    """
    number = chain_ancestor([(b.number, b.hash) for b in history], canonical_hash)
    return None if number is None else next(b for b in history if b.number == number)


def next_range(last: int, head: int, confirmations: int, max_span: int) -> tuple[int, int] | None:
    """Block range ``[from, to]`` to read next, or None when nothing is confirmed yet.

    Args:
        last: number of the last processed block (-1 before the first).
        head: number of the chain's latest block.
        confirmations: blocks that must be mined on top of a block before it is read
            (0 = read the head itself).
        max_span: most blocks read at once (>= 1).
    """
    return next_chunk(last + 1, head, confirmations, max_span)
