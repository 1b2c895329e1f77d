from __future__ import annotations

from pathlib import Path

import pytest

from gridpeer.store.factory import open_store
from gridpeer.store.sqlite import SQLiteStore


def test_sqlite_urls(tmp_path: Path) -> None:
    s = open_store(f"sqlite:///{tmp_path}/a/b.db")
    assert isinstance(s, SQLiteStore) and s.path == f"{tmp_path}/a/b.db"
    s.close()
    m = open_store("sqlite:///:memory:")
    assert isinstance(m, SQLiteStore) and m.path == ":memory:"
    m.close()


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:///", "http://h/db"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="store URL"):
        open_store(url)
