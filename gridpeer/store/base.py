"""The store interface: one protocol, SQLite (default) and PostgreSQL backends.

Time series are keyed by (house, device, ts) and inserts are idempotent on that key.
All timestamps are UTC-aware datetimes. Units as in :mod:`gridpeer.telemetry.schemas`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Resolution(StrEnum):
    """Aggregate resolutions available for charts."""

    RAW = "raw"
    MIN1 = "1min"
    MIN15 = "15min"
    DAY = "1d"


@dataclass(frozen=True)
class Sample:
    """One stored reading. Fields absent for a device are ``None``.

    Attributes: house, device (``meter``|``pv``|``bess``), ts (UTC), v (V), i (A),
    p (W), e_wh (Wh, meter only), p_grid (W, meter only, + import), soc (0..1, bess only).
    """

    house: str
    device: str
    ts: datetime
    v: float | None = None
    i: float | None = None
    p: float | None = None
    e_wh: int | None = None
    p_grid: float | None = None
    soc: float | None = None


@dataclass(frozen=True)
class Bucket:
    """An aggregate over ``[start, start + resolution)``: means of V, I, P (W), SoC;
    ``energy_wh`` is the energy of P over the bucket (Wh); ``n`` readings averaged."""

    house: str
    device: str
    start: datetime
    n: int
    v: float | None
    i: float | None
    p: float | None
    soc: float | None
    energy_wh: float
    p_grid: float | None = None


class StoreUnavailable(ConnectionError):
    """The database cannot be reached right now (e.g. PostgreSQL restarting). Nothing of
    the failed call was applied; the store reconnects by itself, so retry later."""


@dataclass(frozen=True)
class Nonce:
    """A pending sign-in message (Sign-In with Ethereum), single use.

    Attributes: nonce (the message's ``Nonce:`` value), address (lower-case 0x…), client
    (who asked: an IP address or network, for rate limits), message (the full text to be
    signed), expires_at (POSIX seconds, wall clock)."""

    nonce: str
    address: str
    client: str
    message: str
    expires_at: int


@dataclass(frozen=True)
class NonceLimits:
    """Most pending (unexpired, unused) sign-in messages at a time: ``per_client`` for one
    client, ``per_address`` for one address asked by one client."""

    per_client: int = 30
    per_address: int = 5


ORDER_STATES = ("accepted", "matched", "settled", "dropped")
"""States of a coordinator order: accepted (stored, waiting), matched (in a match of its
window, not yet settled), settled (its batch is mined; ``trade_ids`` name the trades),
dropped (never settles; ``reason`` says why)."""


@dataclass(frozen=True)
class OrderRecord:
    """A signed order the coordinator accepted (EIP-712 ``Order``) and its state.

    Attributes: id (0x EIP-712 digest), seq (arrival order, assigned by the store), maker
    (checksummed address), nonce, house, sell, wh (Wh), price (limit, wei/kWh), start and
    end (delivery window, UTC unix s), expiry (UTC unix s), body (the submitted JSON:
    order + signature), state (one of :data:`ORDER_STATES`), reason (why dropped),
    trade_ids (on-chain trade ids once settled), matched_wh (Wh matched / settled),
    created_at (POSIX ms, wall clock)."""

    id: str
    seq: int
    maker: str
    nonce: int
    house: str
    sell: bool
    wh: int
    price: int
    start: int
    end: int
    expiry: int
    body: str
    state: str = "accepted"
    reason: str = ""
    trade_ids: tuple[int, ...] = ()
    matched_wh: int = 0
    created_at: int = 0


@dataclass(frozen=True)
class OrderUpdate:
    """New state of order ``id`` (see :class:`OrderRecord`)."""

    id: str
    state: str
    reason: str = ""
    trade_ids: tuple[int, ...] = ()
    matched_wh: int = 0


@dataclass(frozen=True)
class BatchRecord:
    """A batch the coordinator planned for ``settleBatch``, and its fate.

    Attributes: seq (assigned by the store), start and end (the window, UTC unix s), state
    (``sending`` before the transaction, ``mined``, ``reverted`` or ``lost``), plan (JSON:
    the order ids and matches, so a restart can recognise the batch on chain), from_block
    (chain head when planned: the batch, if mined, is in a later block), batch_id (the
    contract's), tx (0x hash), price (volume-weighted mean, wei/kWh), volume_wh (Wh),
    trades (count), reason (why reverted), created_at and mined_at (UTC unix s)."""

    seq: int
    start: int
    end: int
    state: str
    plan: str
    from_block: int
    batch_id: int | None = None
    tx: str = ""
    price: int = 0
    volume_wh: int = 0
    trades: int = 0
    reason: str = ""
    created_at: int = 0
    mined_at: int | None = None


class Store(Protocol):
    """What every backend provides."""

    def write(self, samples: Iterable[Sample]) -> int:
        """Insert samples in one batch; duplicates of (house, device, ts) are ignored.

        Returns the number of rows actually inserted."""
        ...

    def latest(self, house: str | None = None) -> Sequence[Sample]:
        """Latest sample per (house, device), optionally for one house."""
        ...

    def history(
        self,
        house: str,
        device: str,
        start: datetime,
        end: datetime,
        resolution: Resolution = Resolution.RAW,
    ) -> Sequence[Bucket]:
        """Samples (RAW: one bucket per reading, n=1) or aggregates in [start, end)."""
        ...

    def history_all(
        self, start: datetime, end: datetime, resolution: Resolution = Resolution.MIN15
    ) -> dict[tuple[str, str], list[Bucket]]:
        """Aggregates (1min, 15min or 1d; not RAW) of EVERY house and device whose buckets
        start in [start, end), in ONE query: (house, device) → buckets by time. Pairs
        without data in the range are absent. Raises ValueError for RAW."""
        ...

    def count(self, house: str | None = None, device: str | None = None) -> int:
        """Number of stored raw samples."""
        ...

    def houses(self) -> Sequence[str]:
        """Houses that have any stored sample, sorted."""
        ...

    def apply_retention(self, older_than: datetime) -> int:
        """Delete raw samples older than ``older_than``; aggregates stay. Returns rows deleted."""
        ...

    def add_nonce(self, nonce: Nonce, now: int, limits: NonceLimits) -> str | None:
        """Remember ``nonce`` unless its client is over ``limits`` (expired nonces are
        dropped first; ``now`` in POSIX s). Returns None when stored, else why not."""
        ...

    def take_nonce(self, nonce: str, now: int) -> Nonce | None:
        """Remove and return a pending, unexpired nonce (at most once), else None."""
        ...

    def index_blocks(self, name: str) -> list[tuple[int, str]]:
        """The chain indexer ``name``'s remembered (number, hash) blocks, oldest first
        (semantics of these ``index_*`` methods: gridpeer.chain.index.IndexStore)."""
        ...

    def index_rows(
        self, name: str, kind: str, live_only: bool = False, limit: int | None = None
    ) -> list[tuple[int, bool, str]]:
        """Current (ref, live, body) rows of ``kind``, most recently written first."""
        ...

    def index_row(self, name: str, kind: str, ref: int) -> tuple[int, bool, str] | None:
        """The current version of one indexed row."""
        ...

    def index_commit(
        self,
        name: str,
        block: tuple[int, str],
        rows: Sequence[tuple[str, int, bool, str]],
        keep_blocks: int,
        keep_latest: Mapping[str, int],
    ) -> None:
        """Write one indexed chunk (rows as versions tagged ``block``) atomically."""
        ...

    def index_rewind(self, name: str, number: int) -> None:
        """Forget the indexer's blocks and row versions tagged after ``number``."""

    def add_order(self, rec: OrderRecord) -> tuple[OrderRecord | None, str]:
        """Store a coordinator order (``seq`` assigned) unless its id or (maker, nonce) is
        already stored. Returns (stored record, "") or (None, why not)."""
        ...

    def orders(
        self,
        maker: str | None = None,
        states: Sequence[str] | None = None,
        start: int | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[OrderRecord]:
        """Coordinator orders by arrival, filtered by maker, states, window start, ids."""
        ...

    def update_orders(
        self, updates: Sequence[OrderUpdate], batch: BatchRecord | None = None
    ) -> None:
        """Apply order updates (and write back ``batch``'s state) in one transaction."""
        ...

    def add_batch(self, rec: BatchRecord) -> BatchRecord:
        """Store a batch plan (``seq`` assigned); returns the stored record."""
        ...

    def batches(
        self, states: Sequence[str] | None = None, limit: int | None = None
    ) -> list[BatchRecord]:
        """Coordinator batches, newest first."""
        ...

    def unavailable(self) -> str | None:
        """Why the database is unreachable as of the last call, or None (no I/O)."""
        ...

    def ping(self) -> None:
        """Check the database now (reconnecting if due). Raises StoreUnavailable."""
        ...

    def close(self) -> None:
        """Flush and release the connection."""
        ...
