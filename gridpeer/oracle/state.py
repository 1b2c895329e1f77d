"""The oracle's persistent state: cursor (recent block hashes), seen events, trades.

Lives in the same database as the store (``sqlite:///path`` or ``postgresql://...``),
in its own ``oracle_*`` tables. Every change is one transaction, so a ``kill -9``
leaves either the old or the new state. Events are unique by (tx hash, log index,
trade id) (a batch log holds many trades) and trades by trade id, so replaying a block
range changes nothing.

Trade states: ``seen`` → ``commanded`` (both commands published) → then, by the
settlement rule (:mod:`gridpeer.oracle.rules`), either ``confirming`` (confirmation tx
about to be sent; a ``confirmBatch``'s trades get its hash in ``confirm_tx`` once it is
signed, before the node sees it) → ``confirmed``, or ``disputing`` (dispute tx about to be sent) →
``disputed`` (frozen on chain) → ``resolved`` (the admin or a community meter settled
it); ``expired`` when the trade could not be settled in time (undeliverable, or the
contract closed): the buyer reclaims the escrow. Energies in Wh, prices in wei/kWh,
times UTC.

**Recovery.** A database that goes away (PostgreSQL restart, network) makes every call
raise :class:`StateUnavailable` (the transaction's lock is always released and the
transaction rolled back); the next call after a backoff delay reconnects. Callers retry
their step later: each step is idempotent, so nothing is lost or done twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from gridpeer.oracle.ports import BlockRef, TradeEvent
from gridpeer.oracle.recovery import Backoff

log = logging.getLogger(__name__)


class StateUnavailable(RuntimeError):
    """The oracle's database cannot be reached now; retry the step later."""


class TradeState(StrEnum):
    """Lifecycle of one trade in the oracle."""

    SEEN = "seen"
    COMMANDED = "commanded"
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    DISPUTING = "disputing"
    DISPUTED = "disputed"
    RESOLVED = "resolved"
    EXPIRED = "expired"


FINAL = frozenset({TradeState.CONFIRMED, TradeState.RESOLVED, TradeState.EXPIRED})
"""States after which the oracle never acts on a trade again."""


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
    reason: str | None = None
    grace_s: int | None = None


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
# columns added after the first release: (name, SQL type)
_ADDED = (("reason", "TEXT"), ("grace_s", "BIGINT"))

_TRADE_COLS = (
    "trade_id, seller, buyer, energy_wh, price_wei_per_kwh, window_start, window_end, "
    "block_number, state, seller_out_wh, buyer_in_wh, delivered_wh, confirm_tx, reason, grace_s"
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
        reason=None if r[13] is None else str(r[13]),
        grace_s=None if r[14] is None else int(r[14]),
    )


class OracleState:
    """Oracle tables in a SQLite or PostgreSQL database.

    Args:
        url: ``sqlite:///path/to/file.db`` or ``postgresql://user@host:port/db``.
        keep_blocks: how many processed block hashes to remember for reorg detection.
        backoff: spacing of reconnection attempts after the database went away.

    Raises:
        ValueError: unsupported URL.
        StateUnavailable: the database cannot be reached at construction.
    """

    def __init__(self, url: str, keep_blocks: int = 128, backoff: Backoff | None = None) -> None:
        self.keep_blocks = keep_blocks
        self.url = url
        self._lock = threading.Lock()
        self._backoff = backoff or Backoff(first_s=0.1, max_s=5.0)
        self._pg = url.startswith(("postgresql://", "postgres://"))
        if not self._pg and not url.startswith("sqlite:///"):
            raise ValueError(f"unsupported state URL {url!r}: use sqlite:///… or postgresql://…")
        self._conn: Any = None
        self.reconnects = 0  # connections opened after the first
        with self._tx() as cur:
            for stmt in _SCHEMA:
                cur.execute(stmt)
            self._migrate(cur)

    # -- plumbing -------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._pg:
            import psycopg

            return psycopg.connect(self.url, autocommit=False, connect_timeout=5)
        path = Path(self.url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _lost(self) -> tuple[type[BaseException], ...]:
        """Errors that mean the connection is gone (it is dropped and reopened later)."""
        if self._pg:
            import psycopg

            return (psycopg.OperationalError, psycopg.InterfaceError)
        return (sqlite3.OperationalError,)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: nothing more to release
                log.debug("closing a broken connection failed", exc_info=True)

    def _open(self) -> Any:
        """The connection, reopened when it was lost (at most once per backoff delay)."""
        if self._conn is not None:
            return self._conn
        if not self._backoff.ready():
            raise StateUnavailable("oracle state database unavailable; waiting to reconnect")
        try:
            self._conn = self._connect()
        except self._lost() as exc:
            self._backoff.failed()
            raise StateUnavailable(f"cannot connect to the oracle state database: {exc}") from exc
        if self._backoff.failing:  # a reconnection after failures
            self.reconnects += 1
        self._backoff.succeeded()
        return self._conn

    def _migrate(self, tx: OracleState._Tx) -> None:
        for name, kind in _ADDED:
            if self._pg:
                tx.execute(f"ALTER TABLE oracle_trades ADD COLUMN IF NOT EXISTS {name} {kind}")
            else:
                cols = {r[1] for r in tx.execute("PRAGMA table_info(oracle_trades)").fetchall()}
                if name not in cols:
                    tx.execute(f"ALTER TABLE oracle_trades ADD COLUMN {name} {kind}")

    def _sql(self, stmt: str) -> str:
        return stmt.replace("?", "%s") if self._pg else stmt

    class _Tx:
        """One transaction holding the state's lock; the lock is released on every path
        and a lost connection becomes :class:`StateUnavailable`."""

        def __init__(self, state: OracleState) -> None:
            self.state = state
            self.cur: Any = None

        def __enter__(self) -> OracleState._Tx:
            st = self.state
            st._lock.acquire()
            try:
                conn = st._open()
                if not st._pg:
                    conn.execute("BEGIN IMMEDIATE")
                self.cur = conn.cursor()
            except StateUnavailable:
                st._lock.release()
                raise
            except st._lost() as exc:
                st._drop()
                st._backoff.failed()
                st._lock.release()
                raise StateUnavailable(f"oracle state database lost: {exc}") from exc
            except BaseException:
                st._lock.release()
                raise
            return self

        def execute(self, stmt: str, params: Sequence[Any] = ()) -> Any:
            self.cur.execute(self.state._sql(stmt), tuple(params))
            return self.cur

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            st = self.state
            lost = isinstance(exc, st._lost())
            try:
                conn = st._conn
                if exc_type is None:
                    conn.execute("COMMIT") if not st._pg else conn.commit()
                elif not lost:
                    conn.execute("ROLLBACK") if not st._pg else conn.rollback()
            except st._lost() as err:
                lost, exc = True, err
            finally:
                if lost:
                    st._drop()
                    st._backoff.failed()
                st._lock.release()
            if lost:
                raise StateUnavailable(f"oracle state database lost: {exc}") from (
                    exc if isinstance(exc, BaseException) else None
                )

    def _tx(self) -> OracleState._Tx:
        return OracleState._Tx(self)

    def _query(self, stmt: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._tx() as tx:
            return list(tx.execute(stmt, params).fetchall())

    def close(self) -> None:
        """Release the connection."""
        with self._lock:
            self._drop()

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
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, ?) "
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
                        ev.grace_s,
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

    def counts(self) -> dict[TradeState, int]:
        """Number of trades in each state (states without trades left out)."""
        rows = self._query("SELECT state, COUNT(*) FROM oracle_trades GROUP BY state")
        return {TradeState(r[0]): int(r[1]) for r in rows}

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
        reason: str | None = None,
    ) -> None:
        """Move a trade to ``state`` (keeping delivered Wh / tx hash / reason unless given)."""
        with self._tx() as tx:
            tx.execute(
                "UPDATE oracle_trades SET state = ?, "
                "delivered_wh = COALESCE(?, delivered_wh), confirm_tx = COALESCE(?, confirm_tx), "
                "reason = COALESCE(?, reason) WHERE trade_id = ?",
                (state.value, delivered_wh, confirm_tx, reason, trade_id),
            )

    def set_states(
        self,
        trade_ids: Sequence[int],
        state: TradeState,
        *,
        delivered_wh: Sequence[int | None] | None = None,
        confirm_tx: str | None = None,
        reasons: Sequence[str | None] | None = None,
    ) -> None:
        """:meth:`set_state` for many trades in one transaction (a batch's trades move
        together or not at all); ``delivered_wh`` / ``reasons`` per trade when given."""
        n = len(trade_ids)
        whs = list(delivered_wh) if delivered_wh is not None else [None] * n
        why = list(reasons) if reasons is not None else [None] * n
        if len(whs) != n or len(why) != n:
            raise ValueError("one delivered Wh and one reason per trade")
        if not n:
            return
        with self._tx() as tx:
            for tid, wh, reason in zip(trade_ids, whs, why, strict=True):
                tx.execute(
                    "UPDATE oracle_trades SET state = ?, "
                    "delivered_wh = COALESCE(?, delivered_wh), "
                    "confirm_tx = COALESCE(?, confirm_tx), "
                    "reason = COALESCE(?, reason) WHERE trade_id = ?",
                    (state.value, wh, confirm_tx, reason, tid),
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
