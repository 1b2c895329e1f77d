"""The agent's delivery tasks on disk (SQLite), so a restart resumes and never repeats.

One row per trade id; written in the same call that accepts a command, before the
broker's QoS 1 acknowledgement, so a command is either stored or redelivered.
Energy Wh, times UTC POSIX seconds.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from gridpeer.hems.delivery import Phase, Task
from gridpeer.telemetry.delivery import DeliveryCommand

_SCHEMA = """CREATE TABLE IF NOT EXISTS {table} (
    trade_id INTEGER PRIMARY KEY, command TEXT NOT NULL, phase TEXT NOT NULL,
    measured_wh REAL NOT NULL, closed_at REAL, opened_at REAL, reason TEXT,
    reported INTEGER NOT NULL DEFAULT 0)"""
TABLE = "agent_deliveries"
"""The table of a house's own state file."""


class SharedFile:
    """One SQLite file holding several houses' delivery tasks (a table per house), for
    a :class:`~gridpeer.hems.delivery_host.DeliveryHost`: a file per house would open 3
    descriptors each, and paho's ``select()`` cannot watch a socket numbered 1024 or more
    (a 350-house host failed to connect). Every use holds :attr:`lock`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.lock = threading.RLock()

    def store(self, house: str) -> DeliveryStore:
        """``house``'s tasks in this file (table ``deliveries_<house>``)."""
        return DeliveryStore(shared=self, table=f'"deliveries_{house.replace(chr(34), "")}"')

    def close(self) -> None:
        """Release the file."""
        with self.lock:
            self.conn.close()


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class DeliveryStore:
    """SQLite file holding one house's delivery tasks.

    Args:
        path: database file (created with its folder if missing).
    """

    def __init__(
        self, path: Path | None = None, *, shared: SharedFile | None = None, table: str = TABLE
    ) -> None:
        self._shared = shared
        if shared is None:
            if path is None:
                raise ValueError("a delivery store needs a path or a shared file")
            shared = SharedFile(path)
        self._conn, self._lock, self._table = shared.conn, shared.lock, table
        self._own = self._shared is None
        with self._lock:
            self._conn.execute(_SCHEMA.format(table=table))

    def load(self) -> tuple[list[Task], set[int]]:
        """All stored tasks and the trade ids whose result was already reported."""
        tasks: list[Task] = []
        reported: set[int] = set()
        with self._lock:
            rows = self._conn.execute(
                "SELECT trade_id, command, phase, measured_wh, closed_at, opened_at, reason, "
                f"reported FROM {self._table} ORDER BY trade_id"
            ).fetchall()
        for tid, cmd, phase, wh, closed, opened, reason, rep in rows:
            tasks.append(
                Task(
                    command=DeliveryCommand.model_validate_json(cmd),
                    phase=Phase(phase),
                    measured_wh=float(wh),
                    closed_at=_dt(closed),
                    opened_at=_dt(opened),
                    reason=reason,
                )
            )
            if rep:
                reported.add(int(tid))
        return tasks, reported

    def save(self, tasks: list[Task]) -> None:
        """Insert or update ``tasks`` in one transaction (reported flag kept)."""
        if not tasks:
            return
        with self._lock:
            self._save(tasks)

    def _save(self, tasks: list[Task]) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for t in tasks:
                self._conn.execute(
                    f"INSERT INTO {self._table} (trade_id, command, phase, measured_wh, "
                    "closed_at, opened_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (trade_id) DO UPDATE SET phase = excluded.phase, "
                    "measured_wh = excluded.measured_wh, closed_at = excluded.closed_at, "
                    "opened_at = excluded.opened_at, reason = excluded.reason",
                    (
                        t.command.trade_id,
                        t.command.model_dump_json(),
                        t.phase.value,
                        t.measured_wh,
                        _ts(t.closed_at),
                        _ts(t.opened_at),
                        t.reason,
                    ),
                )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def mark_reported(self, trade_id: int) -> None:
        """Remember that the result of ``trade_id`` reached the broker."""
        with self._lock:
            self._conn.execute(
                f"UPDATE {self._table} SET reported = 1 WHERE trade_id = ?", (trade_id,)
            )

    def close(self) -> None:
        """Release the file (a shared file is closed by its owner)."""
        if self._own:
            with self._lock:
                self._conn.close()
