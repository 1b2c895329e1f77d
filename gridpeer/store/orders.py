"""The coordinator's signed orders and batches (tables ``coord_orders``, ``coord_batches``),
shared by the SQL backends.

Each function runs inside the caller's transaction on a DB-API connection whose
``execute(sql, args)`` returns a cursor (sqlite3 and psycopg both do); ``ph`` is the
driver's placeholder (``?`` or ``%s``). Prices and wei amounts are stored as decimal text
(a uint64 price does not fit a signed BIGINT); energy in Wh, times in POSIX seconds
(``created_at`` in milliseconds).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from gridpeer.store.base import BatchRecord, OrderRecord, OrderUpdate

DDL = """
CREATE TABLE IF NOT EXISTS coord_orders (
    id TEXT PRIMARY KEY, seq BIGINT NOT NULL, maker TEXT NOT NULL, nonce BIGINT NOT NULL,
    house TEXT NOT NULL, sell INTEGER NOT NULL, wh BIGINT NOT NULL, price TEXT NOT NULL,
    start_s BIGINT NOT NULL, end_s BIGINT NOT NULL, expiry BIGINT NOT NULL,
    body TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL,
    trade_ids TEXT NOT NULL, matched_wh BIGINT NOT NULL, created_at BIGINT NOT NULL,
    UNIQUE (maker, nonce));
CREATE INDEX IF NOT EXISTS coord_orders_window ON coord_orders (start_s, state);
CREATE INDEX IF NOT EXISTS coord_orders_state ON coord_orders (state);
CREATE TABLE IF NOT EXISTS coord_batches (
    seq BIGINT PRIMARY KEY, start_s BIGINT NOT NULL, end_s BIGINT NOT NULL,
    state TEXT NOT NULL, plan TEXT NOT NULL, from_block BIGINT NOT NULL,
    batch_id BIGINT, tx TEXT NOT NULL, price TEXT NOT NULL, volume_wh BIGINT NOT NULL,
    trades BIGINT NOT NULL, reason TEXT NOT NULL, created_at BIGINT NOT NULL,
    mined_at BIGINT);
CREATE INDEX IF NOT EXISTS coord_batches_state ON coord_batches (state);
"""

_ORDER_COLS = (
    "id, seq, maker, nonce, house, sell, wh, price, start_s, end_s, expiry, body, state, "
    "reason, trade_ids, matched_wh, created_at"
)
_BATCH_COLS = (
    "seq, start_s, end_s, state, plan, from_block, batch_id, tx, price, volume_wh, trades, "
    "reason, created_at, mined_at"
)


def _order(r: Sequence[Any]) -> OrderRecord:
    return OrderRecord(
        id=str(r[0]),
        seq=int(r[1]),
        maker=str(r[2]),
        nonce=int(r[3]),
        house=str(r[4]),
        sell=bool(r[5]),
        wh=int(r[6]),
        price=int(r[7]),
        start=int(r[8]),
        end=int(r[9]),
        expiry=int(r[10]),
        body=str(r[11]),
        state=str(r[12]),
        reason=str(r[13]),
        trade_ids=tuple(int(t) for t in json.loads(r[14])),
        matched_wh=int(r[15]),
        created_at=int(r[16]),
    )


def _batch(r: Sequence[Any]) -> BatchRecord:
    return BatchRecord(
        seq=int(r[0]),
        start=int(r[1]),
        end=int(r[2]),
        state=str(r[3]),
        plan=str(r[4]),
        from_block=int(r[5]),
        batch_id=None if r[6] is None else int(r[6]),
        tx=str(r[7]),
        price=int(r[8]),
        volume_wh=int(r[9]),
        trades=int(r[10]),
        reason=str(r[11]),
        created_at=int(r[12]),
        mined_at=None if r[13] is None else int(r[13]),
    )


def add_order(db: Any, ph: str, rec: OrderRecord) -> tuple[OrderRecord | None, str]:
    """Store ``rec`` (its ``seq`` is assigned here: one more than the largest) unless its
    id or its (maker, nonce) is already stored. Returns (the stored record, "") or
    (None, the refusal in words)."""
    row = db.execute(
        f"SELECT id FROM coord_orders WHERE id = {ph} OR (maker = {ph} AND nonce = {ph})",
        (rec.id, rec.maker, rec.nonce),
    ).fetchone()
    if row is not None:
        if str(row[0]) == rec.id:
            return None, f"order {rec.id} was already submitted"
        return None, f"nonce {rec.nonce} of {rec.maker} is already used by order {row[0]}"
    (top,) = db.execute("SELECT coalesce(max(seq), 0) FROM coord_orders").fetchone()
    stored = replace(rec, seq=int(top) + 1)
    db.execute(
        f"INSERT INTO coord_orders ({_ORDER_COLS}) VALUES ({', '.join([ph] * 17)})",
        (
            stored.id,
            stored.seq,
            stored.maker,
            stored.nonce,
            stored.house,
            int(stored.sell),
            stored.wh,
            str(stored.price),
            stored.start,
            stored.end,
            stored.expiry,
            stored.body,
            stored.state,
            stored.reason,
            json.dumps(list(stored.trade_ids)),
            stored.matched_wh,
            stored.created_at,
        ),
    )
    return stored, ""


def orders(
    db: Any,
    ph: str,
    maker: str | None = None,
    states: Sequence[str] | None = None,
    start: int | None = None,
    ids: Sequence[str] | None = None,
) -> list[OrderRecord]:
    """Orders by arrival (``seq``), filtered by maker, states, window start or ids."""
    conds: list[str] = []
    args: list[Any] = []
    if maker is not None:
        conds.append(f"maker = {ph}")
        args.append(maker)
    if states is not None:
        conds.append(f"state IN ({', '.join([ph] * len(states))})" if states else "1 = 0")
        args.extend(states)
    if start is not None:
        conds.append(f"start_s = {ph}")
        args.append(start)
    if ids is not None:
        conds.append(f"id IN ({', '.join([ph] * len(ids))})" if ids else "1 = 0")
        args.extend(ids)
    where = " WHERE " + " AND ".join(conds) if conds else ""
    rows = db.execute(f"SELECT {_ORDER_COLS} FROM coord_orders{where} ORDER BY seq", args)
    return [_order(r) for r in rows.fetchall()]


def update_orders(db: Any, ph: str, updates: Sequence[OrderUpdate]) -> None:
    """Set state, reason, trade ids and matched Wh of orders (unknown ids are ignored)."""
    for u in updates:
        db.execute(
            f"UPDATE coord_orders SET state = {ph}, reason = {ph}, trade_ids = {ph}, "
            f"matched_wh = {ph} WHERE id = {ph}",
            (u.state, u.reason, json.dumps(list(u.trade_ids)), u.matched_wh, u.id),
        )


def add_batch(db: Any, ph: str, rec: BatchRecord) -> BatchRecord:
    """Store a batch plan; its ``seq`` is assigned here. Returns the stored record."""
    (top,) = db.execute("SELECT coalesce(max(seq), 0) FROM coord_batches").fetchone()
    stored = replace(rec, seq=int(top) + 1)
    db.execute(
        f"INSERT INTO coord_batches ({_BATCH_COLS}) VALUES ({', '.join([ph] * 14)})",
        (
            stored.seq,
            stored.start,
            stored.end,
            stored.state,
            stored.plan,
            stored.from_block,
            stored.batch_id,
            stored.tx,
            str(stored.price),
            stored.volume_wh,
            stored.trades,
            stored.reason,
            stored.created_at,
            stored.mined_at,
        ),
    )
    return stored


def update_batch(db: Any, ph: str, rec: BatchRecord) -> None:
    """Write back state, batch id, tx, reason and mined time of batch ``rec.seq``."""
    db.execute(
        f"UPDATE coord_batches SET state = {ph}, batch_id = {ph}, tx = {ph}, reason = {ph}, "
        f"mined_at = {ph} WHERE seq = {ph}",
        (rec.state, rec.batch_id, rec.tx, rec.reason, rec.mined_at, rec.seq),
    )


def batches(
    db: Any, ph: str, states: Sequence[str] | None = None, limit: int | None = None
) -> list[BatchRecord]:
    """Batches, newest first, optionally only in ``states`` and at most ``limit``."""
    where, args = "", list(states or ())
    if states is not None:
        where = f" WHERE state IN ({', '.join([ph] * len(states))})" if states else " WHERE 1 = 0"
    sql = f"SELECT {_BATCH_COLS} FROM coord_batches{where} ORDER BY seq DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_batch(r) for r in db.execute(sql, args).fetchall()]
