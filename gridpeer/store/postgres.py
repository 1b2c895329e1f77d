"""PostgreSQL backend behind the same :class:`~gridpeer.store.base.Store` interface.

A batch is COPYed into a temporary table, then one statement inserts the new rows
(``ON CONFLICT DO NOTHING``) and, from exactly those rows, updates the latest values and
the 1-minute sums (15 min and daily are summed from them on read). Timestamps are
``BIGINT`` POSIX milliseconds (UTC).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from gridpeer.store.base import Bucket, Resolution, Sample
from gridpeer.store.rows import (
    SAMPLE_COLUMNS,
    agg_bucket,
    raw_bucket,
    rollup_bounds,
    rollup_query,
    row_sample,
    sample_row,
    to_ms,
)

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


class PostgresStore:
    """The store on PostgreSQL (``conninfo`` as accepted by psycopg, e.g.
    ``postgresql://user@127.0.0.1:5432/gridpeer``). Thread-safe (one connection behind a
    lock); tables are created if missing. ``retention`` as in the SQLite store."""

    def __init__(self, conninfo: str, retention: timedelta | None = None) -> None:
        import psycopg

        self.retention = retention
        self._lock = threading.Lock()
        self._db: Any = psycopg.connect(conninfo, autocommit=False)
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(727274)")  # concurrent first starts
            self._db.execute(SCHEMA)
        self._db.execute(_STAGING)
        self._db.commit()
        self._purged_at_ms: int | None = None

    def write(self, samples: Iterable[Sample]) -> int:
        """Insert samples in one transaction; duplicates are ignored. Returns rows inserted."""
        rows = [sample_row(s) for s in samples]
        if not rows:
            return 0
        with self._lock, self._db.transaction():
            cur = self._db.cursor()
            with cur.copy(f"COPY staging ({_COLS}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            inserted = int(cur.execute(_MERGE).fetchone()[0])
        self._maybe_purge(max(r[2] for r in rows))
        return inserted

    def _maybe_purge(self, newest_ms: int) -> None:
        if self.retention is None:
            return
        if self._purged_at_ms is not None and newest_ms - self._purged_at_ms < RETENTION_CHECK_MS:
            return
        self._purged_at_ms = newest_ms
        cutoff_ms = newest_ms - self.retention // timedelta(milliseconds=1)
        with self._lock, self._db.transaction():
            self._db.execute("DELETE FROM samples WHERE ts_ms < %s", (cutoff_ms,))

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._db.transaction():
            return list(self._db.execute(sql, args).fetchall())

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
        with self._lock, self._db.transaction():
            cur = self._db.execute("DELETE FROM samples WHERE ts_ms < %s", (to_ms(older_than),))
            return int(cur.rowcount)

    def close(self) -> None:
        """Close the connection (every write is already committed)."""
        with self._lock:
            self._db.close()
