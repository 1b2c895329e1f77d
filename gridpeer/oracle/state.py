"""The oracle's persistent state: cursor (recent block hashes), seen events, trades.

Lives in the same database as the store (``sqlite:///path`` or ``postgresql://...``),
in its own ``oracle_*`` tables. Every change is one transaction, so a ``kill -9``
leaves either the old or the new state. Events are unique by (tx hash, log index,
trade id) (a batch log holds many trades) and trades by trade id, so replaying a block
range changes nothing.

Trade states: ``seen`` → ``commanded`` (both commands published) → ``confirming``
(confirmation tx sent) → ``confirmed``; or ``expired`` (no complete result in time:
the buyer reclaims the escrow). Energies in Wh, prices in wei/kWh, times UTC.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from gridpeer.oracle.ports import BlockRef, TradeEvent


class TradeState(StrEnum):
    """Lifecycle of one trade in the oracle."""

    SEEN = "seen"
    COMMANDED = "commanded"
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class TradeRow:
    """One trade as the oracle tracks it (energies Wh, price wei/kWh, times UTC)."""

    trade_id: int
    seller: str
    buyer: str
    energy_wh: int
    price_wei_per_kwh: int
    window_start: datetime
    window_end: datetime
    block_number: int
    state: TradeState
    seller_out_wh: int | None
    buyer_in_wh: int | None
    delivered_wh: int | None
    confirm_tx: str | None


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS oracle_blocks (
        number BIGINT PRIMARY KEY, hash TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS oracle_events (
        tx_hash TEXT NOT NULL, log_index INTEGER NOT NULL, block_number BIGINT NOT NULL,
        block_hash TEXT NOT NULL, trade_id BIGINT NOT NULL,
        PRIMARY KEY (tx_hash, log_index, trade_id))""",
    """CREATE TABLE IF NOT EXISTS oracle_trades (
        trade_id BIGINT PRIMARY KEY, seller TEXT NOT NULL, buyer TEXT NOT NULL,
        energy_wh BIGINT NOT NULL, price_wei_per_kwh TEXT NOT NULL,
        window_start DOUBLE PRECISION NOT NULL, window_end DOUBLE PRECISION NOT NULL,
        block_number BIGINT NOT NULL, state TEXT NOT NULL,
        seller_out_wh BIGINT, buyer_in_wh BIGINT, delivered_wh BIGINT, confirm_tx TEXT)""",
    "CREATE INDEX IF NOT EXISTS oracle_trades_state ON oracle_trades (state)",
)

_TRADE_COLS = (
    "trade_id, seller, buyer, energy_wh, price_wei_per_kwh, window_start, window_end, "
    "block_number, state, seller_out_wh, buyer_in_wh, delivered_wh, confirm_tx"
)


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _row(r: Sequence[Any]) -> TradeRow:
    return TradeRow(
        trade_id=int(r[0]),
        seller=str(r[1]),
        buyer=str(r[2]),
        energy_wh=int(r[3]),
        price_wei_per_kwh=int(r[4]),
        window_start=_ts(float(r[5])),
        window_end=_ts(float(r[6])),
        block_number=int(r[7]),
        state=TradeState(r[8]),
        seller_out_wh=None if r[9] is None else int(r[9]),
        buyer_in_wh=None if r[10] is None else int(r[10]),
        delivered_wh=None if r[11] is None else int(r[11]),
        confirm_tx=None if r[12] is None else str(r[12]),
    )


class OracleState:
    """Oracle tables in a SQLite or PostgreSQL database.

    Args:
        url: ``sqlite:///path/to/file.db`` or ``postgresql://user@host:port/db``.
        keep_blocks: how many processed block hashes to remember for reorg detection.
    """

    def __init__(self, url: str, keep_blocks: int = 128) -> None:
        self.keep_blocks = keep_blocks
        self._lock = threading.Lock()
        self._pg = url.startswith(("postgresql://", "postgres://"))
        if self._pg:
            import psycopg

            self._conn: Any = psycopg.connect(url, autocommit=False)
        elif url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        else:
            raise ValueError(f"unsupported state URL {url!r}: use sqlite:///… or postgresql://…")
        with self._tx() as cur:
            for stmt in _SCHEMA:
                cur.execute(stmt)

    # -- plumbing -------------------------------------------------------------------------
    def _sql(self, stmt: str) -> str:
        return stmt.replace("?", "%s") if self._pg else stmt

    class _Tx:
        def __init__(self, state: OracleState) -> None:
            self.state = state
            self.cur: Any = None

        def __enter__(self) -> OracleState._Tx:
            self.state._lock.acquire()
            conn = self.state._conn
            if not self.state._pg:
                conn.execute("BEGIN IMMEDIATE")
            self.cur = conn.cursor()
            return self

        def execute(self, stmt: str, params: Sequence[Any] = ()) -> Any:
            self.cur.execute(self.state._sql(stmt), tuple(params))
            return self.cur

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            conn = self.state._conn
            try:
                if exc_type is None:
                    conn.execute("COMMIT") if not self.state._pg else conn.commit()
                else:
                    conn.execute("ROLLBACK") if not self.state._pg else conn.rollback()
            finally:
                self.state._lock.release()

    def _tx(self) -> OracleState._Tx:
        return OracleState._Tx(self)

    def _query(self, stmt: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._tx() as tx:
            return list(tx.execute(stmt, params).fetchall())

    def close(self) -> None:
        """Release the connection."""
        self._conn.close()

    # -- cursor -----------------------------------------------------------------------------
    def history(self) -> list[BlockRef]:
        """Remembered processed blocks, oldest first."""
        rows = self._query("SELECT number, hash FROM oracle_blocks ORDER BY number")
        return [BlockRef(int(n), str(h)) for n, h in rows]

    def last_block(self) -> int:
        """Number of the last processed block, or -1 before the first."""
        rows = self._query("SELECT MAX(number) FROM oracle_blocks")
        return -1 if rows[0][0] is None else int(rows[0][0])

    def start_after(self, ref: BlockRef) -> None:
        """On a fresh state only: treat blocks up to ``ref`` as processed."""
        if self.last_block() < 0:
            self.apply_range(ref, [])

    def apply_range(self, end: BlockRef, events: Iterable[TradeEvent]) -> int:
        """Record ``events`` of a processed range ending at ``end``, atomically.

        Returns the number of trades that are new (not seen before)."""
        new = 0
        with self._tx() as tx:
            for ev in events:
                cur = tx.execute(
                    "INSERT INTO oracle_events VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (ev.tx_hash, ev.log_index, ev.block.number, ev.block.hash, ev.trade_id),
                )
                if cur.rowcount == 0:
                    continue
                cur = tx.execute(
                    f"INSERT INTO oracle_trades ({_TRADE_COLS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL) "
                    "ON CONFLICT DO NOTHING",
                    (
                        ev.trade_id,
                        ev.seller,
                        ev.buyer,
                        ev.energy_wh,
                        str(ev.price_wei_per_kwh),
                        ev.window_start.timestamp(),
                        ev.window_end.timestamp(),
                        ev.block.number,
                        TradeState.SEEN.value,
                    ),
                )
                new += max(cur.rowcount, 0)
            tx.execute(
                "INSERT INTO oracle_blocks VALUES (?, ?) ON CONFLICT (number) DO UPDATE "
                "SET hash = excluded.hash",
                (end.number, end.hash),
            )
            tx.execute(
                "DELETE FROM oracle_blocks WHERE number <= ?", (end.number - self.keep_blocks,)
            )
        return new

    def rewind(self, to: BlockRef) -> int:
        """Forget what was read after block ``to`` (a reorg). Trades already commanded stay
        (they are idempotent by trade id); merely seen ones are dropped and re-read.

        Returns the number of dropped trades."""
        with self._tx() as tx:
            tx.execute("DELETE FROM oracle_blocks WHERE number > ?", (to.number,))
            tx.execute("DELETE FROM oracle_events WHERE block_number > ?", (to.number,))
            cur = tx.execute(
                "DELETE FROM oracle_trades WHERE block_number > ? AND state = ?",
                (to.number, TradeState.SEEN.value),
            )
            return max(int(cur.rowcount), 0)

    # -- trades -----------------------------------------------------------------------------
    def trades(self, *states: TradeState) -> list[TradeRow]:
        """Trades in any of ``states`` (all trades if none given), by trade id."""
        if states:
            marks = ", ".join("?" for _ in states)
            rows = self._query(
                f"SELECT {_TRADE_COLS} FROM oracle_trades WHERE state IN ({marks}) "
                "ORDER BY trade_id",
                [s.value for s in states],
            )
        else:
            rows = self._query(f"SELECT {_TRADE_COLS} FROM oracle_trades ORDER BY trade_id")
        return [_row(r) for r in rows]

    def trade(self, trade_id: int) -> TradeRow | None:
        """One trade, or None if unknown."""
        rows = self._query(
            f"SELECT {_TRADE_COLS} FROM oracle_trades WHERE trade_id = ?", (trade_id,)
        )
        return _row(rows[0]) if rows else None

    def set_state(
        self,
        trade_id: int,
        state: TradeState,
        *,
        delivered_wh: int | None = None,
        confirm_tx: str | None = None,
    ) -> None:
        """Move a trade to ``state`` (keeping delivered Wh / tx hash unless given)."""
        with self._tx() as tx:
            tx.execute(
                "UPDATE oracle_trades SET state = ?, "
                "delivered_wh = COALESCE(?, delivered_wh), confirm_tx = COALESCE(?, confirm_tx) "
                "WHERE trade_id = ?",
                (state.value, delivered_wh, confirm_tx, trade_id),
            )

    def record_result(self, trade_id: int, seller_side: bool, measured_wh: int) -> TradeRow | None:
        """Store one house's measured Wh (first report wins); returns the updated trade."""
        col = "seller_out_wh" if seller_side else "buyer_in_wh"
        with self._tx() as tx:
            tx.execute(
                f"UPDATE oracle_trades SET {col} = COALESCE({col}, ?) WHERE trade_id = ?",
                (measured_wh, trade_id),
            )
        return self.trade(trade_id)
