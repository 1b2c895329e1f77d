"""A real PostgreSQL 15 server for the tests, started on a free 127.0.0.1 port.

PostgreSQL refuses to run as root, so initdb/pg_ctl run as the ``postgres`` user in a
temporary directory it owns. One server per test session; ``postgres_url`` gives each
test a fresh empty database; ``postgres_restartable`` gives a test its own server to stop
and start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.ports import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*cmd: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return list(cmd)


class PgServer:
    """One PostgreSQL 15 server in its own temporary directory, on a free port.

    ``url`` is ``postgresql://postgres@127.0.0.1:PORT``; :meth:`stop` / :meth:`start`
    (or :meth:`restart`) take it down and up again on the same port and data. Fast and
    forgetful by default (``synchronous_commit=off``: a crash may lose the last commits);
    ``durable=True`` keeps PostgreSQL's default, for tests that crash the server."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        if not (PG_BIN / "pg_ctl").exists():
            pytest.fail("PostgreSQL 15 is not installed (Debian package 'postgresql')")
        self.root = Path(tempfile.mkdtemp(prefix="gp-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ),
            check=True,
            capture_output=True,
        )
        self.start()

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        if not self.durable:
            opts += " -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.root / "pg.log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, clean shutdown; ``immediate``:
        like a crash)."""
        subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"),
            capture_output=True,
        )

    def restart(self, mode: str = "fast") -> None:
        """Stop, then start again on the same port and data."""
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        """Stop and delete the server's files."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Base URL ``postgresql://postgres@127.0.0.1:PORT`` of a running server."""
    server = PgServer()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def postgres_restartable() -> Iterator[PgServer]:
    """A durable server of this test's own (so stopping it disturbs no other test)."""
    server = PgServer(durable=True)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """URL of a fresh, empty database on the session's server (dropped afterwards)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{postgres_server}/{name}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
