"""The agent's delivery tasks on disk (SQLite), so a restart resumes and never repeats.

One row per trade id; written in the same call that accepts a command, before the
broker's QoS 1 acknowledgement, so a command is either stored or redelivered.
Energy Wh, times UTC POSIX seconds.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from gridpeer.hems.delivery import Phase, Task
from gridpeer.telemetry.delivery import DeliveryCommand

_SCHEMA = """CREATE TABLE IF NOT EXISTS agent_deliveries (
    trade_id INTEGER PRIMARY KEY, command TEXT NOT NULL, phase TEXT NOT NULL,
    measured_wh REAL NOT NULL, closed_at REAL, opened_at REAL, reason TEXT,
    reported INTEGER NOT NULL DEFAULT 0)"""


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class DeliveryStore:
    """SQLite file holding one house's delivery tasks.

    Args:
        path: database file (created with its folder if missing).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # A rollback journal, not WAL: one open file per house instead of three, so a
        # process hosting hundreds of houses keeps its MQTT sockets below paho's select()
        # limit (file descriptors < 1024); commits stay atomic and durable.
        self._conn.execute("PRAGMA journal_mode=DELETE")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)

    def load(self) -> tuple[list[Task], set[int]]:
        """All stored tasks and the trade ids whose result was already reported."""
        tasks: list[Task] = []
        reported: set[int] = set()
        rows = self._conn.execute(
            "SELECT trade_id, command, phase, measured_wh, closed_at, opened_at, reason, "
            "reported FROM agent_deliveries ORDER BY trade_id"
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
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for t in tasks:
                self._conn.execute(
                    "INSERT INTO agent_deliveries (trade_id, command, phase, measured_wh, "
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
        self._conn.execute(
            "UPDATE agent_deliveries SET reported = 1 WHERE trade_id = ?", (trade_id,)
        )

    def close(self) -> None:
        """Release the file."""
        self._conn.close()
