"""One serve per community: the file lock (SQLite) and the advisory lock (PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridpeer.runtime.instance import AlreadyRunning, PostgresLock, file_lock, lock_key


def test_a_second_file_lock_is_refused_until_the_first_is_released(tmp_path: Path) -> None:
    path = tmp_path / "gp.db.serve.lock"
    with (
        file_lock(path),
        pytest.raises(AlreadyRunning, match="one instance per community"),
        file_lock(path),
    ):
        pass
    with file_lock(path):  # free again
        pass


def test_communities_have_their_own_keys() -> None:
    assert lock_key("villa") != lock_key("town")
    assert -(2**63) <= lock_key("villa") < 2**63


@pytest.mark.postgres
def test_the_advisory_lock_admits_one_instance_per_community(postgres_url: str) -> None:
    lost: list[str] = []
    first = PostgresLock(postgres_url, "villa", lambda: lost.append("first"))
    second = PostgresLock(postgres_url, "villa", lambda: lost.append("second"))
    other = PostgresLock(postgres_url, "town", lambda: lost.append("other"))
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning, match="'villa' is running against this database"):
            second.acquire()
        other.acquire()  # another community is not blocked
        other.release()
    finally:
        first.release()
    second.acquire()  # the first stopped: the lock is free
    second.release()
    assert lost == []
