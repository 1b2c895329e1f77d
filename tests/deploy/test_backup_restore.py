"""The PostgreSQL part of docs/deploy.md "Backup and restore" on a real server: the
documented ``pg_dump --format=custom`` of a community's database, restored with
``pg_restore --no-owner --exit-on-error`` into an empty database, gives back every
reading and the oracle's cursor, and the store goes on working on it (a reading
redelivered after the restore is not stored twice)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from gridpeer.oracle.ports import BlockRef
from gridpeer.oracle.state import OracleState
from gridpeer.store.base import Sample
from gridpeer.store.factory import open_store

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)


def _samples(n: int) -> list[Sample]:
    return [
        Sample(h, "meter", T0 + timedelta(minutes=k), v=230.0, i=1.0, p=230.0, e_wh=k, p_grid=1.0)
        for k in range(n)
        for h in ("h1", "h2")
    ]


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    """A second empty database on the same server (the restore target)."""
    server = postgres_url.rsplit("/", 1)[0]
    name = f"r_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_dump_restores_readings_and_the_oracle_cursor(
    postgres_url: str, empty_database: str, tmp_path: Path
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.fail("pg_dump/pg_restore missing: install Debian's 'postgresql-client'")
    store = open_store(postgres_url)
    assert store.write(_samples(60)) == 120
    state = OracleState(postgres_url)
    state.start_after(BlockRef(41, "0x" + "ab" * 32))
    state.close()
    store.close()

    dump = tmp_path / "gridpeer.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", f"--dbname={postgres_url}"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    restore = subprocess.run(
        ["pg_restore", f"--dbname={empty_database}", "--no-owner", "--exit-on-error", str(dump)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restore.returncode == 0, restore.stderr

    restored = open_store(empty_database)
    try:
        assert restored.count() == 120 and set(restored.houses()) == {"h1", "h2"}
        assert restored.write(_samples(60)[-2:]) == 0  # redelivered: not stored twice
        late = Sample("h1", "meter", T0 + timedelta(hours=2), v=230.0, i=1.0, p=230.0)
        assert restored.write([late]) == 1  # and it goes on storing
        state = OracleState(empty_database)
        assert state.last_block() == 41 and state.history()[-1].hash == "0x" + "ab" * 32
        state.close()
    finally:
        restored.close()
