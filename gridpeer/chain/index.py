"""Where the web's chain indexer keeps its cursor and what it indexed, reorg-safe.

The indexer (:class:`gridpeer.chain.hub.ChainHub`) reads the market's logs in chunks and
commits each chunk with the hash of its last block. What it derives from the logs (orders,
trades, explorer events) is kept as **versioned rows**: a row written while indexing up to
block ``b`` is a version tagged ``b``; the current value of a row is its newest version.
A reorg rewinds to the newest remembered block that is still canonical by deleting every
block and version tagged after it, which restores exactly what was known there. Versions
older than the oldest remembered block can never be rewound to and are pruned.

Rows are plain tuples so any store satisfies :class:`IndexStore` structurally (the SQL
stores in :mod:`gridpeer.store.chain_index`; :class:`MemoryIndex` here for the demo):

* a row to write: ``(kind, ref, live, body)``; ``kind`` e.g. ``"trade"``, ``ref`` its id,
  ``live`` whether the indexer keeps it in memory on start (open orders and trades),
  ``body`` its JSON;
* a row read: ``(ref, live, body)``.

Block numbers and refs are integers; hashes are ``0x`` hex strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

RowIn = tuple[str, int, bool, str]
"""(kind, ref, live, body) of a row to write."""
RowOut = tuple[int, bool, str]
"""(ref, live, body) of a row's current version."""


class IndexStore(Protocol):
    """Persistence of one or more indexers, each under its own ``name``."""

    def index_blocks(self, name: str) -> list[tuple[int, str]]:
        """Remembered (number, hash) of committed blocks, oldest first."""
        ...

    def index_rows(
        self, name: str, kind: str, live_only: bool = False, limit: int | None = None
    ) -> list[RowOut]:
        """Current rows of ``kind``, most recently written first (then by ref, descending)."""
        ...

    def index_row(self, name: str, kind: str, ref: int) -> RowOut | None:
        """The current version of one row, if any."""
        ...

    def index_commit(
        self,
        name: str,
        block: tuple[int, str],
        rows: Sequence[RowIn],
        keep_blocks: int,
        keep_latest: Mapping[str, int],
    ) -> None:
        """Atomically: write ``rows`` as versions tagged ``block[0]``, remember ``block``,
        forget all but the newest ``keep_blocks`` blocks, prune versions older than the
        oldest remembered block, and keep only the ``keep_latest[kind]`` highest refs of
        each kind listed there."""
        ...

    def index_rewind(self, name: str, number: int) -> None:
        """Forget blocks and versions tagged after ``number`` (a reorg's common ancestor;
        -1 forgets everything)."""
        ...


class MemoryIndex:
    """An :class:`IndexStore` in process memory (the demo; tests)."""

    def __init__(self) -> None:
        self._blocks: dict[str, list[tuple[int, str]]] = {}
        # (name, kind, ref) -> versions [(block, live, body)], oldest first
        self._rows: dict[tuple[str, str, int], list[tuple[int, bool, str]]] = {}

    def index_blocks(self, name: str) -> list[tuple[int, str]]:
        return list(self._blocks.get(name, []))

    def index_rows(
        self, name: str, kind: str, live_only: bool = False, limit: int | None = None
    ) -> list[RowOut]:
        current = [
            (v[-1][0], ref, v[-1][1], v[-1][2])
            for (n, k, ref), v in self._rows.items()
            if n == name and k == kind and (v[-1][1] or not live_only)
        ]
        current.sort(key=lambda r: (r[0], r[1]), reverse=True)
        return [(ref, live, body) for _, ref, live, body in current[:limit]]

    def index_row(self, name: str, kind: str, ref: int) -> RowOut | None:
        v = self._rows.get((name, kind, ref))
        return (ref, v[-1][1], v[-1][2]) if v else None

    def index_commit(
        self,
        name: str,
        block: tuple[int, str],
        rows: Sequence[RowIn],
        keep_blocks: int,
        keep_latest: Mapping[str, int],
    ) -> None:
        number = block[0]
        for kind, ref, live, body in rows:
            versions = self._rows.setdefault((name, kind, ref), [])
            versions[:] = [v for v in versions if v[0] < number] + [(number, live, body)]
        blocks = [b for b in self._blocks.get(name, []) if b[0] < number] + [block]
        self._blocks[name] = blocks = blocks[-keep_blocks:]
        oldest = blocks[0][0]
        for kind, ref, _, _ in rows:
            versions = self._rows[(name, kind, ref)]
            final = [i for i, v in enumerate(versions) if v[0] <= oldest]
            if final:
                del versions[: final[-1]]
        for kind, keep in keep_latest.items():
            refs = sorted(r for (n, k, r) in self._rows if n == name and k == kind)
            for ref in refs[: max(0, len(refs) - keep)]:
                del self._rows[(name, kind, ref)]

    def index_rewind(self, name: str, number: int) -> None:
        self._blocks[name] = [b for b in self._blocks.get(name, []) if b[0] <= number]
        for key in [k for k in self._rows if k[0] == name]:
            kept = [v for v in self._rows[key] if v[0] <= number]
            if kept:
                self._rows[key] = kept
            else:
                del self._rows[key]


class ReorgTooDeep(RuntimeError):
    """No remembered block is canonical any more: the reorg is deeper than the history."""


def common_ancestor(
    blocks: Sequence[tuple[int, str]], canonical_hash: Callable[[int], str | None]
) -> int | None:
    """Number of the block to rewind to, or None when the newest remembered one is canonical.

    Args:
        blocks: remembered (number, hash), oldest first.
        canonical_hash: the node's hash of a block number now (None if it has none).

    Raises:
        ReorgTooDeep: none of the remembered blocks is canonical.
    """
    if not blocks or canonical_hash(blocks[-1][0]) == blocks[-1][1]:
        return None
    for number, h in reversed(blocks[:-1]):
        if canonical_hash(number) == h:
            return number
    raise ReorgTooDeep(f"none of the {len(blocks)} remembered blocks (from #{blocks[0][0]})")


def next_chunk(cursor: int, head: int, confirmations: int, span: int) -> tuple[int, int] | None:
    """Blocks ``[from, to]`` to read next (at most ``span``), or None when caught up.

    Args:
        cursor: next block to read.
        head: the node's latest block number.
        confirmations: blocks mined on top of a block before it is read (0: the head too).
        span: most blocks per ``eth_getLogs`` (>= 1).
    """
    if span < 1 or confirmations < 0:
        raise ValueError("span must be >= 1 and confirmations >= 0")
    last = head - confirmations
    if last < cursor:
        return None
    return cursor, min(last, cursor + span - 1)
