"""Row ↔ record conversions and constants shared by the SQL backends.

Timestamps are stored as integer POSIX milliseconds (UTC); the key (house, device, ts_ms)
makes inserts idempotent at millisecond resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gridpeer.store.base import Bucket, Resolution, Sample

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

BUCKET_MS: dict[Resolution, int] = {
    Resolution.MIN1: 60_000,
    Resolution.MIN15: 900_000,
    Resolution.DAY: 86_400_000,
}
"""Aggregate bucket length per resolution, in milliseconds (days are UTC days).

Only 1-minute sums are maintained on write (table ``aggregates_1min``); 15-minute and daily
buckets are summed from them on read (at most 1,440 rows per device-day)."""


def rollup_bounds(res: Resolution, lo_ms: int, hi_ms: int) -> tuple[int, int]:
    """1-min rows ``[a, b)`` whose ``res`` buckets start in ``[lo_ms, hi_ms)``."""
    step = BUCKET_MS[res]
    return -(-lo_ms // step) * step, -(-hi_ms // step) * step


def rollup_query(res: Resolution, ph: str) -> str:
    """SQL summing 1-min rows into ``res`` buckets for one (house, device) over a start_ms
    range; ``ph`` is the driver's placeholder (``?`` or ``%s``). Row layout as
    :func:`agg_bucket` expects."""
    ms = BUCKET_MS[res]
    mod = "%%" if ph == "%s" else "%"  # psycopg needs a literal % doubled
    return (
        f"SELECT house, device, start_ms - start_ms {mod} {ms} AS b, sum(n), sum(sum_v), "
        "sum(sum_i), sum(sum_p), sum(sum_soc), sum(sum_p_grid) FROM aggregates_1min "
        f"WHERE house = {ph} AND device = {ph} AND start_ms >= {ph} AND start_ms < {ph} "
        "GROUP BY house, device, b ORDER BY b"
    )


def rollup_all_query(res: Resolution, ph: str) -> str:
    """SQL summing 1-min rows into ``res`` buckets for EVERY (house, device) over a start_ms
    range ``[ph, ph)``: one statement for the whole community, ordered by house, device,
    bucket. Row layout as :func:`agg_bucket` expects.

    It walks the (house, device) pairs of ``latest`` (every pair with aggregates has a
    latest value) and reads each pair's range from the primary key (house, device,
    start_ms), as one ``history`` query per pair would, so rows arrive grouped and no
    index on ``start_ms`` alone is needed."""
    ms = BUCKET_MS[res]
    mod = "%%" if ph == "%s" else "%"
    return (
        f"SELECT a.house, a.device, a.start_ms - a.start_ms {mod} {ms} AS b, sum(a.n), "
        "sum(a.sum_v), sum(a.sum_i), sum(a.sum_p), sum(a.sum_soc), sum(a.sum_p_grid) "
        "FROM latest l CROSS JOIN aggregates_1min a "  # SQLite: this join order, as said
        "WHERE a.house = l.house AND a.device = l.device "
        f"AND a.start_ms >= {ph} AND a.start_ms < {ph} "
        "GROUP BY a.house, a.device, b ORDER BY a.house, a.device, b"
    )


UNION_MAX = 16
"""Ranges of at most this many buckets are read bucket by bucket (:func:`rollup_each_query`)."""


def rollup_each_query(n_buckets: int) -> str:
    """SQLite: like :func:`rollup_all_query` for ``n_buckets`` buckets, as a ``UNION ALL`` of
    one grouping per bucket (parameters per bucket: start, start, end in ms). Each part
    groups rows that arrive in primary-key order, so SQLite needs no temporary B-tree to
    sort them: about 4× faster for the live view's last few buckets. Rows come bucket by
    bucket (per pair in time order)."""
    part = (
        "SELECT l.house, l.device, ? AS b, sum(a.n), sum(a.sum_v), sum(a.sum_i), "
        "sum(a.sum_p), sum(a.sum_soc), sum(a.sum_p_grid) "
        "FROM latest l CROSS JOIN aggregates_1min a "
        "WHERE a.house = l.house AND a.device = l.device "
        "AND a.start_ms >= ? AND a.start_ms < ? GROUP BY l.house, l.device"
    )
    return " UNION ALL ".join([part] * n_buckets)


def group_buckets(
    res: Resolution, rows: Sequence[Sequence[Any]]
) -> dict[tuple[str, str], list[Bucket]]:
    """Rows of :func:`rollup_all_query` → buckets per (house, device), each list by time."""
    out: dict[tuple[str, str], list[Bucket]] = {}
    for r in rows:
        b = agg_bucket(res, r)
        out.setdefault((b.house, b.device), []).append(b)
    return out


def aggregate_resolution(resolution: Resolution) -> Resolution:
    """``resolution`` checked to be an aggregate one (not RAW). Raises ValueError."""
    res = Resolution(resolution)
    if res is Resolution.RAW:
        raise ValueError("history_all gives aggregates only (1min, 15min, 1d), not raw")
    return res


SAMPLE_COLUMNS = ("house", "device", "ts_ms", "v", "i", "p", "e_wh", "p_grid", "soc")


def to_ms(ts: datetime) -> int:
    """UTC-aware datetime → POSIX milliseconds (floor). Raises on a naive datetime."""
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts!r} must be timezone-aware (UTC)")
    d = ts - EPOCH
    return (d.days * 86_400 + d.seconds) * 1000 + d.microseconds // 1000


def from_ms(ts_ms: int) -> datetime:
    """POSIX milliseconds → UTC-aware datetime."""
    return EPOCH + timedelta(milliseconds=ts_ms)


def sample_row(s: Sample) -> tuple[Any, ...]:
    """A sample as a row in :data:`SAMPLE_COLUMNS` order."""
    return (s.house, s.device, to_ms(s.ts), s.v, s.i, s.p, s.e_wh, s.p_grid, s.soc)


def row_sample(r: Sequence[Any]) -> Sample:
    """A row in :data:`SAMPLE_COLUMNS` order as a sample."""
    return Sample(r[0], r[1], from_ms(int(r[2])), r[3], r[4], r[5], r[6], r[7], r[8])


def raw_bucket(s: Sample) -> Bucket:
    """One raw reading as a bucket (n=1; instantaneous, so ``energy_wh`` = 0)."""
    return Bucket(s.house, s.device, s.ts, 1, s.v, s.i, s.p, s.soc, 0.0, s.p_grid)


def agg_bucket(res: Resolution, r: Sequence[Any]) -> Bucket:
    """Row (house, device, start_ms, n, sum_v, sum_i, sum_p, sum_soc, sum_p_grid) → bucket of
    means; ``energy_wh`` = mean P (W) × bucket length (h)."""
    house, device, start_ms, n = r[0], r[1], int(r[2]), int(r[3])

    def mean(x: float | None) -> float | None:
        return None if x is None else float(x) / n

    p = mean(r[6])
    energy = (p or 0.0) * BUCKET_MS[res] / 3_600_000.0
    return Bucket(
        house,
        device,
        from_ms(start_ms),
        n,
        mean(r[4]),
        mean(r[5]),
        p,
        mean(r[7]),
        energy,
        mean(r[8]),
    )
