"""PostgreSQL backend behind the same :class:`~gridpeer.store.base.Store` interface.

A batch is COPYed into a temporary table, then one statement inserts the new rows
(``ON CONFLICT DO NOTHING``) and, from exactly those rows, updates the latest values and
the 1-minute sums (15 min and daily are summed from them on read). Timestamps are
``BIGINT`` POSIX milliseconds (UTC).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

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
    StoreUnavailable,
)
from gridpeer.store.rows import (
    SAMPLE_COLUMNS,
    agg_bucket,
    aggregate_resolution,
    group_buckets,
    raw_bucket,
    rollup_all_query,
    rollup_bounds,
    rollup_query,
    row_sample,
    sample_row,
    to_ms,
)

log = logging.getLogger(__name__)

_COLS = ", ".join(SAMPLE_COLUMNS)
_SET_LATEST = ", ".join(f"{c} = excluded.{c}" for c in SAMPLE_COLUMNS[2:])
_SAMPLE_DDL = """house TEXT NOT NULL, device TEXT NOT NULL, ts_ms BIGINT NOT NULL,
    v DOUBLE PRECISION, i DOUBLE PRECISION, p DOUBLE PRECISION, e_wh BIGINT,
    p_grid DOUBLE PRECISION, soc DOUBLE PRECISION"""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS samples ({_SAMPLE_DDL}, PRIMARY KEY (house, device, ts_ms));
CREATE TABLE IF NOT EXISTS latest ({_SAMPLE_DDL}, PRIMARY KEY (house, device));
CREATE TABLE IF NOT EXISTS aggregates_1min (
    house TEXT NOT NULL, device TEXT NOT NULL, start_ms BIGINT NOT NULL,
    n BIGINT NOT NULL, sum_v DOUBLE PRECISION, sum_i DOUBLE PRECISION,
    sum_p DOUBLE PRECISION, sum_soc DOUBLE PRECISION, sum_p_grid DOUBLE PRECISION,
    PRIMARY KEY (house, device, start_ms));
"""
_STAGING = f"CREATE TEMP TABLE IF NOT EXISTS staging ({_SAMPLE_DDL}) ON COMMIT DELETE ROWS"


_MERGE = f"""
WITH ins AS (
    INSERT INTO samples ({_COLS})
    SELECT DISTINCT ON (house, device, ts_ms) {_COLS} FROM staging
    ON CONFLICT DO NOTHING RETURNING {_COLS}),
lat AS (
    INSERT INTO latest ({_COLS})
    SELECT DISTINCT ON (house, device) {_COLS} FROM ins ORDER BY house, device, ts_ms DESC
    ON CONFLICT (house, device) DO UPDATE SET {_SET_LATEST}
    WHERE excluded.ts_ms > latest.ts_ms),
minutes AS (
    INSERT INTO aggregates_1min
    SELECT house, device, ts_ms - ts_ms % 60000 AS b, count(*),
           sum(v), sum(i), sum(p), sum(soc), sum(p_grid)
    FROM ins GROUP BY house, device, b
    ON CONFLICT (house, device, start_ms) DO UPDATE SET
        n = aggregates_1min.n + excluded.n,
        sum_v = aggregates_1min.sum_v + excluded.sum_v,
        sum_i = aggregates_1min.sum_i + excluded.sum_i,
        sum_p = aggregates_1min.sum_p + excluded.sum_p,
        sum_soc = aggregates_1min.sum_soc + excluded.sum_soc,
        sum_p_grid = aggregates_1min.sum_p_grid + excluded.sum_p_grid)
SELECT count(*) FROM ins"""

RETENTION_CHECK_MS = 3_600_000
"""With a retention setting, old raw rows are purged at most once per model hour (ms)."""

BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 2.0
"""Reconnect attempts after an outage: first after ``BACKOFF_MIN_S``, doubling up to
``BACKOFF_MAX_S`` seconds, so the store is back at most ~2 s after the database is."""

T = TypeVar("T")


class PostgresStore:
    """The store on PostgreSQL (``conninfo`` as accepted by psycopg, e.g.
    ``postgresql://user@127.0.0.1:5432/gridpeer``). Thread-safe (one connection behind a
    lock); tables are created if missing. ``retention`` as in the SQLite store.

    Survives database restarts: a lost connection makes the call raise
    :class:`StoreUnavailable` (nothing of it applied; one warning per outage), and later
    calls reconnect, at most once per backoff step (0.2 s doubling to 2 s); calls in
    between fail fast. A call that finds its connection dropped by a restart that is
    already over reconnects and runs once more (every operation is idempotent).

    Raises:
        StoreUnavailable: at construction, when the database cannot be reached.
    """

    def __init__(
        self, conninfo: str, retention: timedelta | None = None, connect_timeout_s: int = 5
    ) -> None:
        self.conninfo = conninfo
        self.retention = retention
        self.connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._db: Any = None
        self._down: str | None = None
        self._down_since = 0.0
        self._retry_at = 0.0
        self._backoff = BACKOFF_MIN_S
        self._purged_at_ms: int | None = None
        with self._lock:
            self._connection()

    # --- connection ------------------------------------------------------------------
    def _connect(self) -> Any:
        import psycopg

        db = psycopg.connect(
            self.conninfo, autocommit=False, connect_timeout=self.connect_timeout_s
        )
        try:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(727274)")  # concurrent first starts
                db.execute(SCHEMA)
                db.execute(nonces.DDL)
                db.execute(chain_index.DDL)
                db.execute(coord.DDL)
            db.execute(_STAGING)  # temporary: once per connection
            db.commit()
        except BaseException:
            db.close()
            raise
        return db

    def _connection(self) -> Any:
        """The open connection, reconnecting if due (lock held). Raises StoreUnavailable."""
        if self._db is not None:
            return self._db
        now = time.monotonic()
        if now < self._retry_at:
            raise StoreUnavailable(f"PostgreSQL is unreachable: {self._down}")
        import psycopg

        try:
            self._db = self._connect()
        except psycopg.Error as exc:
            self._mark_down(exc)
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(BACKOFF_MAX_S, self._backoff * 2)
            raise StoreUnavailable(f"PostgreSQL is unreachable: {self._down}") from exc
        if self._down is not None:
            log.warning(
                "store: PostgreSQL is back after %.1f s", time.monotonic() - self._down_since
            )
        self._down, self._backoff = None, BACKOFF_MIN_S
        return self._db

    def _mark_down(self, exc: BaseException) -> None:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if self._down is None:
            self._down_since = time.monotonic()
            log.warning("store: lost PostgreSQL (%s); reconnecting in the background", reason)
        self._down = reason
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None

    def _run(self, op: Callable[[Any], T]) -> T:
        """``op(connection)`` under the lock; on a lost connection reconnect and run it once
        more. Raises StoreUnavailable when the database stays unreachable."""
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                db = self._connection()
                try:
                    return op(db)
                except psycopg.Error as exc:
                    if not (db.broken or db.closed):
                        raise  # a real SQL error: the connection is fine
                    self._mark_down(exc)
                    if attempt == 2:
                        raise StoreUnavailable(f"PostgreSQL is unreachable: {self._down}") from exc
            raise AssertionError("unreachable")

    def unavailable(self) -> str | None:
        """Why PostgreSQL is unreachable as of the last call, or None (no I/O)."""
        return None if self._down is None else f"PostgreSQL is unreachable: {self._down}"

    def ping(self) -> None:
        """``SELECT 1`` now (reconnecting if due). Raises StoreUnavailable."""
        self._run(lambda db: db.execute("SELECT 1").fetchone())

    # --- samples ---------------------------------------------------------------------
    def write(self, samples: Iterable[Sample]) -> int:
        """Insert samples in one transaction; duplicates are ignored. Returns rows inserted.

        Raises StoreUnavailable (nothing written) while the database is down."""
        rows = [sample_row(s) for s in samples]
        if not rows:
            return 0

        def insert(db: Any) -> int:
            with db.transaction():
                cur = db.cursor()
                with cur.copy(f"COPY staging ({_COLS}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
                return int(cur.execute(_MERGE).fetchone()[0])

        inserted = self._run(insert)
        self._maybe_purge(max(r[2] for r in rows))
        return inserted

    def _maybe_purge(self, newest_ms: int) -> None:
        if self.retention is None:
            return
        if self._purged_at_ms is not None and newest_ms - self._purged_at_ms < RETENTION_CHECK_MS:
            return
        self._purged_at_ms = newest_ms
        cutoff_ms = newest_ms - self.retention // timedelta(milliseconds=1)
        self._exec("DELETE FROM samples WHERE ts_ms < %s", (cutoff_ms,))

    def _exec(self, sql: str, args: Sequence[Any] = ()) -> int:
        def run(db: Any) -> int:
            with db.transaction():
                return int(db.execute(sql, args).rowcount)

        return self._run(run)

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def run(db: Any) -> list[tuple[Any, ...]]:
            with db.transaction():
                return list(db.execute(sql, args).fetchall())

        return self._run(run)

    def latest(self, house: str | None = None) -> Sequence[Sample]:
        """Latest sample per (house, device), sorted; optionally for one house."""
        if house is None:
            rows = self._query(f"SELECT {_COLS} FROM latest ORDER BY house, device")
        else:
            rows = self._query(
                f"SELECT {_COLS} FROM latest WHERE house = %s ORDER BY device", (house,)
            )
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
        if res is Resolution.RAW:
            rows = self._query(
                f"SELECT {_COLS} FROM samples WHERE house = %s AND device = %s "
                "AND ts_ms >= %s AND ts_ms < %s ORDER BY ts_ms",
                (house, device, lo, hi),
            )
            return [raw_bucket(row_sample(r)) for r in rows]
        a, b = rollup_bounds(res, lo, hi)
        rows = self._query(rollup_query(res, "%s"), (house, device, a, b))
        return [agg_bucket(res, r) for r in rows]

    def history_all(
        self, start: datetime, end: datetime, resolution: Resolution = Resolution.MIN15
    ) -> dict[tuple[str, str], list[Bucket]]:
        """Aggregates of every (house, device) in [start, end), in one query (see the
        protocol)."""
        res = aggregate_resolution(resolution)
        a, b = rollup_bounds(res, to_ms(start), to_ms(end))
        rows = self._query(rollup_all_query(res, "%s"), (a, b))
        return group_buckets(res, rows)

    def count(self, house: str | None = None, device: str | None = None) -> int:
        """Number of stored raw samples, optionally filtered."""
        conds = [c for c, v in (("house = %s", house), ("device = %s", device)) if v is not None]
        args = [v for v in (house, device) if v is not None]
        where = " WHERE " + " AND ".join(conds) if conds else ""
        return int(self._query(f"SELECT count(*) FROM samples{where}", args)[0][0])

    def houses(self) -> Sequence[str]:
        """Houses with any stored sample, sorted."""
        return [str(r[0]) for r in self._query("SELECT DISTINCT house FROM latest ORDER BY 1")]

    def apply_retention(self, older_than: datetime) -> int:
        """Delete raw samples older than ``older_than``; aggregates and latest values stay."""
        return self._exec("DELETE FROM samples WHERE ts_ms < %s", (to_ms(older_than),))

    # --- sign-in nonces --------------------------------------------------------------
    def add_nonce(self, nonce: Nonce, now: int, limits: NonceLimits) -> str | None:
        """Remember a pending sign-in message unless over ``limits`` (see the protocol).
        Serialised across processes by a transaction-scoped advisory lock."""

        def add(db: Any) -> str | None:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(727275)")
                return nonces.add(db, "%s", nonce, now, limits)

        return self._run(add)

    def take_nonce(self, nonce: str, now: int) -> Nonce | None:
        """Remove and return a pending, unexpired nonce, else None."""

        def take(db: Any) -> Nonce | None:
            with db.transaction():
                return nonces.take(db, "%s", nonce, now)

        return self._run(take)

    # --- the chain indexer's cursor and rows (see gridpeer.chain.index.IndexStore) ------
    def index_blocks(self, name: str) -> list[tuple[int, str]]:
        """Remembered (number, hash) of committed blocks, oldest first."""
        return self._run(lambda db: _in_tx(db, chain_index.blocks, name))

    def index_rows(
        self, name: str, kind: str, live_only: bool = False, limit: int | None = None
    ) -> list[tuple[int, bool, str]]:
        """Current rows of ``kind``, most recently written first."""
        return self._run(lambda db: _in_tx(db, chain_index.rows, name, kind, live_only, limit))

    def index_row(self, name: str, kind: str, ref: int) -> tuple[int, bool, str] | None:
        """The current version of one row."""
        return self._run(lambda db: _in_tx(db, chain_index.row, name, kind, ref))

    def index_commit(
        self,
        name: str,
        block: tuple[int, str],
        rows: Sequence[tuple[str, int, bool, str]],
        keep_blocks: int,
        keep_latest: Mapping[str, int],
    ) -> None:
        """Write one indexed chunk atomically (idempotent: a retry rewrites the same)."""
        self._run(
            lambda db: _in_tx(db, chain_index.commit, name, block, rows, keep_blocks, keep_latest)
        )

    def index_rewind(self, name: str, number: int) -> None:
        """Forget blocks and row versions tagged after ``number``."""
        self._run(lambda db: _in_tx(db, chain_index.rewind, name, number))

    # --- coordinator orders and batches ----------------------------------------------
    def _locked_tx(self, op: Callable[[Any], T]) -> T:
        """``op(db)`` in one transaction serialised across processes (advisory lock)."""

        def run(db: Any) -> T:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(727276)")
                return op(db)

        return self._run(run)

    def add_order(self, rec: OrderRecord) -> tuple[OrderRecord | None, str]:
        """Store a coordinator order unless its id or (maker, nonce) is taken."""
        return self._locked_tx(lambda db: coord.add_order(db, "%s", rec))

    def orders(
        self,
        maker: str | None = None,
        states: Sequence[str] | None = None,
        start: int | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[OrderRecord]:
        """Coordinator orders by arrival, filtered."""

        def run(db: Any) -> list[OrderRecord]:
            with db.transaction():
                return coord.orders(db, "%s", maker, states, start, ids)

        return self._run(run)

    def update_orders(
        self, updates: Sequence[OrderUpdate], batch: BatchRecord | None = None
    ) -> None:
        """Apply order updates and write back ``batch`` in one transaction."""

        def run(db: Any) -> None:
            coord.update_orders(db, "%s", updates)
            if batch is not None:
                coord.update_batch(db, "%s", batch)

        self._locked_tx(run)

    def add_batch(self, rec: BatchRecord) -> BatchRecord:
        """Store a batch plan; returns it with its ``seq``."""
        return self._locked_tx(lambda db: coord.add_batch(db, "%s", rec))

    def batches(
        self, states: Sequence[str] | None = None, limit: int | None = None
    ) -> list[BatchRecord]:
        """Coordinator batches, newest first."""

        def run(db: Any) -> list[BatchRecord]:
            with db.transaction():
                return coord.batches(db, "%s", states, limit)

        return self._run(run)

    def close(self) -> None:
        """Close the connection (every write is already committed)."""
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(Exception):
                    self._db.close()
                self._db = None


def _in_tx(db: Any, fn: Callable[..., T], *args: Any) -> T:
    """``fn(db, "%s", *args)`` in one transaction."""
    with db.transaction():
        return fn(db, "%s", *args)
