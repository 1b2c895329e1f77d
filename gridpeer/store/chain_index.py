"""The chain indexer's cursor and versioned rows (tables ``chain_index_blocks`` and
``chain_index_rows``), shared by the SQL backends.

Semantics as in :class:`gridpeer.chain.index.IndexStore`: every row written while indexing
up to block ``b`` is a version tagged ``b``, its newest version is its value, a rewind
deletes what was tagged after the common ancestor. Each function runs inside the caller's
transaction on a DB-API connection whose ``execute(sql, args)`` returns a cursor (sqlite3
and psycopg both do); ``ph`` is the driver's placeholder (``?`` or ``%s``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DDL = """
CREATE TABLE IF NOT EXISTS chain_index_blocks (
    name TEXT NOT NULL, number BIGINT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (name, number));
CREATE TABLE IF NOT EXISTS chain_index_rows (
    name TEXT NOT NULL, kind TEXT NOT NULL, ref BIGINT NOT NULL, block BIGINT NOT NULL,
    live BOOLEAN NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (name, kind, ref, block));
CREATE INDEX IF NOT EXISTS chain_index_rows_block ON chain_index_rows (name, block);
"""

_CURRENT = """
SELECT r.ref, r.live, r.body, r.block FROM chain_index_rows r
WHERE r.name = {ph} AND r.kind = {ph} {extra} AND r.block = (
    SELECT max(v.block) FROM chain_index_rows v
    WHERE v.name = r.name AND v.kind = r.kind AND v.ref = r.ref)"""


def blocks(db: Any, ph: str, name: str) -> list[tuple[int, str]]:
    """Remembered (number, hash), oldest first."""
    rows = db.execute(
        f"SELECT number, hash FROM chain_index_blocks WHERE name = {ph} ORDER BY number",
        (name,),
    ).fetchall()
    return [(int(n), str(h)) for n, h in rows]


def rows(
    db: Any, ph: str, name: str, kind: str, live_only: bool, limit: int | None
) -> list[tuple[int, bool, str]]:
    """Current rows of ``kind``, most recently written first, then by ref descending."""
    sql = _CURRENT.format(ph=ph, extra="AND r.live" if live_only else "")
    sql += " ORDER BY r.block DESC, r.ref DESC"
    args: tuple[Any, ...] = (name, kind)
    if limit is not None:
        sql += f" LIMIT {ph}"
        args += (limit,)
    return [(int(r), bool(live), str(body)) for r, live, body, _ in db.execute(sql, args)]


def row(db: Any, ph: str, name: str, kind: str, ref: int) -> tuple[int, bool, str] | None:
    """The current version of one row."""
    got = db.execute(
        f"SELECT ref, live, body FROM chain_index_rows WHERE name = {ph} AND kind = {ph} "
        f"AND ref = {ph} ORDER BY block DESC LIMIT 1",
        (name, kind, ref),
    ).fetchone()
    return None if got is None else (int(got[0]), bool(got[1]), str(got[2]))


def commit(
    db: Any,
    ph: str,
    name: str,
    block: tuple[int, str],
    new_rows: Sequence[tuple[str, int, bool, str]],
    keep_blocks: int,
    keep_latest: Mapping[str, int],
) -> None:
    """Write one chunk (see :meth:`gridpeer.chain.index.IndexStore.index_commit`)."""
    number = block[0]
    args = [(name, kind, ref, number, live, body) for kind, ref, live, body in new_rows]
    if args:
        db.cursor().executemany(
            "INSERT INTO chain_index_rows (name, kind, ref, block, live, body) "
            f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph}) ON CONFLICT (name, kind, ref, block) "
            "DO UPDATE SET live = excluded.live, body = excluded.body",
            args,
        )
    db.execute(
        f"INSERT INTO chain_index_blocks (name, number, hash) VALUES ({ph}, {ph}, {ph}) "
        "ON CONFLICT (name, number) DO UPDATE SET hash = excluded.hash",
        (name, number, block[1]),
    )
    db.execute(
        f"DELETE FROM chain_index_blocks WHERE name = {ph} AND number NOT IN (SELECT number "
        f"FROM chain_index_blocks WHERE name = {ph} ORDER BY number DESC LIMIT {ph})",
        (name, name, keep_blocks),
    )
    (oldest,) = db.execute(
        f"SELECT min(number) FROM chain_index_blocks WHERE name = {ph}", (name,)
    ).fetchone()
    if args:  # versions superseded at or before the oldest remembered block
        db.cursor().executemany(
            f"DELETE FROM chain_index_rows WHERE name = {ph} AND kind = {ph} AND ref = {ph} "
            f"AND block < (SELECT max(block) FROM chain_index_rows WHERE name = {ph} "
            f"AND kind = {ph} AND ref = {ph} AND block <= {ph})",
            [(name, kind, ref, name, kind, ref, oldest) for kind, ref, _, _ in new_rows],
        )
    for kind, keep in keep_latest.items():
        db.execute(
            f"DELETE FROM chain_index_rows WHERE name = {ph} AND kind = {ph} AND ref NOT IN "
            f"(SELECT DISTINCT ref FROM chain_index_rows WHERE name = {ph} AND kind = {ph} "
            f"ORDER BY ref DESC LIMIT {ph})",
            (name, kind, name, kind, keep),
        )


def rewind(db: Any, ph: str, name: str, number: int) -> None:
    """Forget blocks and versions tagged after ``number``."""
    db.execute(
        f"DELETE FROM chain_index_blocks WHERE name = {ph} AND number > {ph}", (name, number)
    )
    db.execute(f"DELETE FROM chain_index_rows WHERE name = {ph} AND block > {ph}", (name, number))
