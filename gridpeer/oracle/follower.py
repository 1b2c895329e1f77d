"""Following a chain from the last processed block, with confirmations and reorgs (pure).

The oracle remembers the hashes of the last processed blocks (its *cursor history*).
Before reading further it checks that the newest remembered block is still canonical;
if not, it walks back to the newest remembered block that is (the common ancestor) and
re-reads from there. New events are read by block range (``eth_getLogs``), never by a
full scan, and only up to ``head - confirmations``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gridpeer.oracle.ports import BlockRef


class ReorgTooDeep(RuntimeError):
    """No remembered block is canonical any more: the reorg is deeper than the history."""


def common_ancestor(
    history: Sequence[BlockRef], canonical_hash: Callable[[int], str | None]
) -> BlockRef | None:
    """The block to rewind to, or None when the newest remembered block is canonical.

    Args:
        history: remembered processed blocks, oldest first.
        canonical_hash: current canonical hash of a block number (None if absent).

    Raises:
        ReorgTooDeep: if none of the remembered blocks is canonical.
    """
    if not history:
        return None
    newest = history[-1]
    if canonical_hash(newest.number) == newest.hash:
        return None
    for ref in reversed(history[:-1]):
        if canonical_hash(ref.number) == ref.hash:
            return ref
    raise ReorgTooDeep(
        f"none of the {len(history)} remembered blocks (from #{history[0].number}) is canonical"
    )


def next_range(last: int, head: int, confirmations: int, max_span: int) -> tuple[int, int] | None:
    """Block range ``[from, to]`` to read next, or None when nothing is confirmed yet.

    Args:
        last: number of the last processed block (-1 before the first).
        head: number of the chain's latest block.
        confirmations: blocks that must be mined on top of a block before it is read
            (0 = read the head itself).
        max_span: most blocks read at once (>= 1).
    """
    if confirmations < 0 or max_span < 1:
        raise ValueError("confirmations must be >= 0 and max_span >= 1")
    safe = head - confirmations
    if safe <= last:
        return None
    return last + 1, min(safe, last + max_span)
