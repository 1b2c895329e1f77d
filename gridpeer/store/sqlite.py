"""SQLite backend (default): WAL, ``synchronous=NORMAL``, batched ``executemany`` inserts,
idempotent on (house, device, ts). Each batch also updates the latest value per device and
the 1-minute sums (from newly inserted rows only; 15 min and daily buckets are summed from
them on read), so aggregates survive raw-data retention.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from gridpeer.store import chain_index, nonces
from gridpeer.store import orders as coord
from gridpeer.store.base import (
    BatchRecord,
    Bucket,
    Nonce,
    NonceLimits,
    OrderRecord,
    OrderUpdate,
    Resolution,
    Sample,
)
from gridpeer.store.rows import (
    BUCKET_MS,
    SAMPLE_COLUMNS,
    UNION_MAX,
    agg_bucket,
    aggregate_resolution,
    group_buckets,
    raw_bucket,
    rollup_all_query,
    rollup_bounds,
    rollup_each_query,
    rollup_query,
    row_sample,
    sample_row,
    to_ms,
)

_COLS = ", ".join(SAMPLE_COLUMNS)
_SET_LATEST = ", ".join(f"{c} = excluded.{c}" for c in SAMPLE_COLUMNS[2:])

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    house TEXT NOT NULL, device TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    v REAL, i REAL, p REAL, e_wh INTEGER, p_grid REAL, soc REAL,
    PRIMARY KEY (house, device, ts_ms)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    house TEXT NOT NULL, device TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    v REAL, i REAL, p REAL, e_wh INTEGER, p_grid REAL, soc REAL,
    PRIMARY KEY (house, device));
CREATE TABLE IF NOT EXISTS aggregates_1min (
    house TEXT NOT NULL, device TEXT NOT NULL, start_ms INTEGER NOT NULL,
    n INTEGER NOT NULL, sum_v REAL, sum_i REAL, sum_p REAL, sum_soc REAL, sum_p_grid REAL,
    PRIMARY KEY (house, device, start_ms)) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS staging (
    house TEXT NOT NULL, device TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    v REAL, i REAL, p REAL, e_wh INTEGER, p_grid REAL, soc REAL);
"""

# A batch (deduplicated in Python) goes through the per-connection TEMP table ``staging``:
# rows already stored are dropped, the rest are inserted, and only those feed the
# aggregates and latest values.
_DROP_KNOWN = (
    "DELETE FROM staging WHERE EXISTS (SELECT 1 FROM samples s WHERE s.house = staging.house "
    "AND s.device = staging.device AND s.ts_ms = staging.ts_ms)"
)
_INSERT_NEW = f"INSERT INTO samples ({_COLS}) SELECT {_COLS} FROM staging"
_UPDATE_LATEST = f"""
INSERT INTO latest ({_COLS})
SELECT house, device, max(ts_ms), v, i, p, e_wh, p_grid, soc  -- bare columns: max's row
FROM staging WHERE true GROUP BY house, device
ON CONFLICT (house, device) DO UPDATE SET {_SET_LATEST} WHERE excluded.ts_ms > latest.ts_ms"""


_UPDATE_MINUTES = """
INSERT INTO aggregates_1min
SELECT house, device, ts_ms - ts_ms % 60000 AS b, count(*),
       sum(v), sum(i), sum(p), sum(soc), sum(p_grid)
FROM staging WHERE true GROUP BY house, device, b
ON CONFLICT (house, device, start_ms) DO UPDATE SET
    n = n + excluded.n, sum_v = sum_v + excluded.sum_v, sum_i = sum_i + excluded.sum_i,
    sum_p = sum_p + excluded.sum_p, sum_soc = sum_soc + excluded.sum_soc,
    sum_p_grid = sum_p_grid + excluded.sum_p_grid"""

T = TypeVar("T")

RETENTION_CHECK_MS = 3_600_000
"""With a retention setting, old raw rows are purged at most once per model hour (ms)."""


class SQLiteStore:
    """The :class:`~gridpeer.store.base.Store` on one SQLite file (or ``":memory:"``).

    Safe to share between threads (one connection behind a lock); several processes may
    write the same file (WAL, 30 s busy timeout). ``retention``: raw samples older than
    the newest written timestamp minus ``retention`` are deleted automatically.
    """

    def __init__(self, path: str | Path, retention: timedelta | None = None) -> None:
        if isinstance(path, Path) or path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.retention = retention
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=30.0, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA temp_store=MEMORY")
        # Rows of many houses land on many B-tree pages per batch: keep them cached (64 MiB)
        # and checkpoint the WAL less often (every 64 MiB) to cut page I/O.
        self._db.execute("PRAGMA cache_size=-65536")
        self._db.execute("PRAGMA wal_autocheckpoint=16384")
        self._db.executescript(SCHEMA + nonces.DDL + chain_index.DDL + coord.DDL)
        self._purged_at_ms: int | None = None

    def write(self, samples: Iterable[Sample]) -> int:
        """Insert samples in one transaction; duplicates are ignored. Returns rows inserted."""
        rows = list({(r[0], r[1], r[2]): r for r in map(sample_row, samples)}.values())
        if not rows:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    f"INSERT INTO staging ({_COLS}) VALUES (?,?,?,?,?,?,?,?,?)", rows
                )
                self._db.execute(_DROP_KNOWN)
                inserted = self._db.execute(_INSERT_NEW).rowcount
                if inserted:
                    self._db.execute(_UPDATE_MINUTES)
                    self._db.execute(_UPDATE_LATEST)
                self._db.execute("DELETE FROM staging")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._maybe_purge(max(r[2] for r in rows))
        return int(inserted)

    def _maybe_purge(self, newest_ms: int) -> None:
        if self.retention is None:
            return
        if self._purged_at_ms is not None and newest_ms - self._purged_at_ms < RETENTION_CHECK_MS:
            return
        self._purged_at_ms = newest_ms
        cutoff_ms = newest_ms - self.retention // timedelta(milliseconds=1)
        with self._lock:
            self._db.execute("DELETE FROM samples WHERE ts_ms < ?", (cutoff_ms,))

    def latest(self, house: str | None = None) -> Sequence[Sample]:
        """Latest sample per (house, device), sorted; optionally for one house."""
        sql = f"SELECT {_COLS} FROM latest"
        args: tuple[str, ...] = ()
        if house is not None:
            sql, args = sql + " WHERE house = ?", (house,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY house, device", args).fetchall()
        return [row_sample(r) for r in rows]

    def history(
        self,
        house: str,
        device: str,
        start: datetime,
        end: datetime,
        resolution: Resolution = Resolution.RAW,
    ) -> Sequence[Bucket]:
        """Raw readings (n=1) or aggregates (means; energy in Wh) in [start, end), by time."""
        lo, hi = to_ms(start), to_ms(end)
        res = Resolution(resolution)
        with self._lock:
            if res is Resolution.RAW:
                rows = self._db.execute(
                    f"SELECT {_COLS} FROM samples WHERE house = ? AND device = ? "
                    "AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
                    (house, device, lo, hi),
                ).fetchall()
                return [raw_bucket(row_sample(r)) for r in rows]
            a, b = rollup_bounds(res, lo, hi)
            rows = self._db.execute(rollup_query(res, "?"), (house, device, a, b)).fetchall()
        return [agg_bucket(res, r) for r in rows]

    def history_all(
        self, start: datetime, end: datetime, resolution: Resolution = Resolution.MIN15
    ) -> dict[tuple[str, str], list[Bucket]]:
        """Aggregates of every (house, device) in [start, end), in one query (see the
        protocol)."""
        res = aggregate_resolution(resolution)
        a, b = rollup_bounds(res, to_ms(start), to_ms(end))
        step = BUCKET_MS[res]
        n = (b - a) // step
        if n <= 0:
            return {}
        if n <= UNION_MAX:
            sql = rollup_each_query(n)
            args: tuple[int, ...] = tuple(
                x for k in range(a, b, step) for x in (k, k, min(k + step, b))
            )
        else:
            sql, args = rollup_all_query(res, "?"), (a, b)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return group_buckets(res, rows)

    def count(self, house: str | None = None, device: str | None = None) -> int:
        """Number of stored raw samples, optionally filtered."""
        where, args = _filters(house, device)
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM samples{where}", args).fetchone()[0])

    def houses(self) -> Sequence[str]:
        """Houses with any stored sample, sorted."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT house FROM latest ORDER BY house").fetchall()
        return [str(r[0]) for r in rows]

    def apply_retention(self, older_than: datetime) -> int:
        """Delete raw samples older than ``older_than``; aggregates and latest values stay."""
        with self._lock:
            cur = self._db.execute("DELETE FROM samples WHERE ts_ms < ?", (to_ms(older_than),))
            return int(cur.rowcount)

    def add_nonce(self, nonce: Nonce, now: int, limits: NonceLimits) -> str | None:
        """Remember a pending sign-in message unless over ``limits`` (see the protocol)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                refused = nonces.add(self._db, "?", nonce, now, limits)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return refused

    def take_nonce(self, nonce: str, now: int) -> Nonce | None:
        """Remove and return a pending, unexpired nonce, else None."""
        with self._lock:
            return nonces.take(self._db, "?", nonce, now)

    # --- the chain indexer's cursor and rows (see gridpeer.chain.index.IndexStore) ------
    def index_blocks(self, name: str) -> list[tuple[int, str]]:
        """Remembered (number, hash) of committed blocks, oldest first."""
        with self._lock:
            return chain_index.blocks(self._db, "?", name)

    def index_rows(
        self, name: str, kind: str, live_only: bool = False, limit: int | None = None
    ) -> list[tuple[int, bool, str]]:
        """Current rows of ``kind``, most recently written first."""
        with self._lock:
            return chain_index.rows(self._db, "?", name, kind, live_only, limit)

    def index_row(self, name: str, kind: str, ref: int) -> tuple[int, bool, str] | None:
        """The current version of one row."""
        with self._lock:
            return chain_index.row(self._db, "?", name, kind, ref)

    def index_commit(
        self,
        name: str,
        block: tuple[int, str],
        rows: Sequence[tuple[str, int, bool, str]],
        keep_blocks: int,
        keep_latest: Mapping[str, int],
    ) -> None:
        """Write one indexed chunk atomically."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                chain_index.commit(self._db, "?", name, block, rows, keep_blocks, keep_latest)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def index_rewind(self, name: str, number: int) -> None:
        """Forget blocks and row versions tagged after ``number``."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                chain_index.rewind(self._db, "?", name, number)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _tx(self, op: Callable[[], T]) -> T:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = op()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return out

    def add_order(self, rec: OrderRecord) -> tuple[OrderRecord | None, str]:
        """Store a coordinator order unless its id or (maker, nonce) is taken."""
        return self._tx(lambda: coord.add_order(self._db, "?", rec))

    def orders(
        self,
        maker: str | None = None,
        states: Sequence[str] | None = None,
        start: int | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[OrderRecord]:
        """Coordinator orders by arrival, filtered."""
        with self._lock:
            return coord.orders(self._db, "?", maker, states, start, ids)

    def update_orders(
        self, updates: Sequence[OrderUpdate], batch: BatchRecord | None = None
    ) -> None:
        """Apply order updates and write back ``batch`` in one transaction."""

        def run() -> None:
            coord.update_orders(self._db, "?", updates)
            if batch is not None:
                coord.update_batch(self._db, "?", batch)

        self._tx(run)

    def add_batch(self, rec: BatchRecord) -> BatchRecord:
        """Store a batch plan; returns it with its ``seq``."""
        return self._tx(lambda: coord.add_batch(self._db, "?", rec))

    def batches(
        self, states: Sequence[str] | None = None, limit: int | None = None
    ) -> list[BatchRecord]:
        """Coordinator batches, newest first."""
        with self._lock:
            return coord.batches(self._db, "?", states, limit)

    def unavailable(self) -> str | None:
        """Always None: a local file is not "down" (errors surface as exceptions)."""
        return None

    def ping(self) -> None:
        """Run a trivial query (raises sqlite3.Error if the file is unusable)."""
        with self._lock:
            self._db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Close the connection (every write is already committed)."""
        with self._lock:
            self._db.close()


def _filters(house: str | None, device: str | None) -> tuple[str, tuple[str, ...]]:
    conds, args = [], []
    if house is not None:
        conds.append("house = ?")
        args.append(house)
    if device is not None:
        conds.append("device = ?")
        args.append(device)
    return (" WHERE " + " AND ".join(conds) if conds else ""), tuple(args)
