"""One ``gridpeer serve`` per community: a second instance refuses to start.

Two instances of the same community would share fixed MQTT client ids (the persistent
sessions of the ingest and the oracle), steal each other's connections and both flap.
So ``serve`` first takes a lock that lives as long as the process:

* with a PostgreSQL store, a session-level advisory lock in that database
  (``pg_try_advisory_lock``), so two machines pointed at the same database cannot both
  run; if the database restarts the lock is taken again, and if another instance got it
  meanwhile this one stops;
* with SQLite, an exclusive ``flock`` on ``<database file>.serve.lock`` beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RECHECK_S = 5.0
"""How often the PostgreSQL lock's connection is checked (wall seconds)."""


class AlreadyRunning(OSError):
    """Another instance of the same community holds the lock."""


def lock_key(community: str) -> int:
    """The advisory lock's key for ``community``: a signed 64-bit hash."""
    digest = hashlib.sha256(f"gridpeer-serve:{community}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) while inside.

    Raises:
        AlreadyRunning: another process holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"another gridpeer serve holds {path}: stop it first (one instance per community)"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class PostgresLock:
    """A session-level advisory lock held on a connection of its own.

    Args:
        url: the store's ``postgresql://`` URL.
        community: whose lock.
        on_lost: called (from the watcher thread) when the lock was lost to another instance
            after a database restart.
    """

    def __init__(self, url: str, community: str, on_lost: Callable[[], None]) -> None:
        self.url, self.community, self.key = url, community, lock_key(community)
        self.on_lost = on_lost
        self._conn: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _take(self) -> bool:
        import psycopg

        self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        return bool(row and row[0])

    def acquire(self) -> None:
        """Take the lock and start watching its connection.

        Raises:
            AlreadyRunning: another instance holds it.
        """
        if not self._take():
            self._conn.close()
            raise AlreadyRunning(
                f"another gridpeer serve of community {self.community!r} is running against "
                "this database: stop it first (one instance per community)"
            )
        self._thread = threading.Thread(target=self._watch, name="instance-lock", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        import psycopg

        lost = False
        while not self._stop.wait(RECHECK_S):
            try:
                self._conn.execute("SELECT 1")
                continue
            except psycopg.Error:
                if not lost:
                    log.warning("instance lock: the database connection dropped; retaking it")
                lost = True
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            try:
                if self._take():
                    log.info("instance lock: taken again")
                    lost = False
                    continue
            except psycopg.Error:
                continue  # the database is still down: try again
            log.error("instance lock: another instance took it while the database restarted")
            self.on_lost()
            return

    def release(self) -> None:
        """Stop watching and close the connection (which releases the lock)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(Exception):
            self._conn.close()
