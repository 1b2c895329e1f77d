"""``open_store(url)``: pick the backend from a URL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from gridpeer.store.base import Store


def open_store(url: str, retention: timedelta | None = None) -> Store:
    """Open a store.

    * ``sqlite:///relative/or/absolute/path.db`` (``sqlite:////abs/path.db`` also works),
      ``sqlite:///:memory:``, or a bare file path → :class:`~gridpeer.store.sqlite.SQLiteStore`
    * ``postgresql://user:pw@host:port/db`` (or ``postgres://``) →
      :class:`~gridpeer.store.postgres.PostgresStore`

    ``retention``: keep raw samples this long (model time) behind the newest; ``None`` = forever.
    """
    if is_postgres(url):
        from gridpeer.store.postgres import PostgresStore

        return PostgresStore(url, retention)
    path = sqlite_path(url)
    from gridpeer.store.sqlite import SQLiteStore

    return SQLiteStore(path, retention)


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str) -> Path | str:
    """The SQLite file of a ``sqlite:///PATH`` URL or bare path (``":memory:"`` as is).

    Raises:
        ValueError: another scheme, or no path.
    """
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path.startswith("/"):
            path = "/" + path.lstrip("/")
    elif "://" in url:
        raise ValueError(f"unsupported store URL {url!r}: use sqlite:///PATH or postgresql://...")
    else:
        path = url
    if not path:
        raise ValueError(f"store URL {url!r} has no database path")
    return path if path == ":memory:" else Path(path)
