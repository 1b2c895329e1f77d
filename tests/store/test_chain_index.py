"""The chain indexer's versioned rows and cursor, on SQLite, a real PostgreSQL and the
in-memory index (one contract, gridpeer.chain.index.IndexStore)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridpeer.chain.index import IndexStore, MemoryIndex
from gridpeer.store.factory import open_store

N = "0xmarket"


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexStore]:
    if request.param == "memory":
        yield MemoryIndex()
        return
    url = f"sqlite:///{tmp_path}/t.db"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    s = open_store(url)
    for name in (N, "other"):
        s.index_rewind(name, -1)  # the PostgreSQL database is shared by the session
    yield s
    s.close()


def test_the_newest_version_is_the_value_and_the_cursor_is_the_last_block(
    index: IndexStore,
) -> None:
    index.index_commit(N, (10, "0xa"), [("trade", 1, True, "t1 open")], 3, {})
    index.index_commit(N, (20, "0xb"), [("trade", 1, False, "t1 settled")], 3, {})
    index.index_commit(N, (30, "0xc"), [("trade", 2, True, "t2 open")], 3, {})
    assert index.index_blocks(N) == [(10, "0xa"), (20, "0xb"), (30, "0xc")]
    assert index.index_row(N, "trade", 1) == (1, False, "t1 settled")
    assert index.index_rows(N, "trade") == [(2, True, "t2 open"), (1, False, "t1 settled")]
    assert index.index_rows(N, "trade", live_only=True) == [(2, True, "t2 open")]
    assert index.index_rows(N, "trade", limit=1) == [(2, True, "t2 open")]
    assert index.index_rows("other", "trade") == [] and index.index_blocks("other") == []


def test_a_rewind_restores_what_was_known_at_the_ancestor(index: IndexStore) -> None:
    index.index_commit(N, (10, "0xa"), [("trade", 1, True, "open")], 5, {})
    index.index_commit(
        N, (11, "0xb"), [("trade", 1, False, "settled"), ("trade", 2, True, "x")], 5, {}
    )
    index.index_rewind(N, 10)
    assert index.index_blocks(N) == [(10, "0xa")]
    assert index.index_rows(N, "trade") == [(1, True, "open")]
    assert index.index_row(N, "trade", 2) is None
    index.index_rewind(N, -1)
    assert index.index_blocks(N) == [] and index.index_rows(N, "trade") == []


def test_only_the_last_blocks_are_remembered_and_kinds_can_be_capped(index: IndexStore) -> None:
    for b in range(1, 8):
        rows = [("trade", 1, True, f"v{b}"), ("event", b, False, f"e{b}")]
        index.index_commit(N, (b, f"0x{b}"), rows, 3, {"event": 4})
    assert [n for n, _ in index.index_blocks(N)] == [5, 6, 7]
    assert [r for r, _, _ in index.index_rows(N, "event")] == [7, 6, 5, 4]
    index.index_rewind(N, 5)  # the oldest remembered block is still a valid target
    assert index.index_row(N, "trade", 1) == (1, True, "v5")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    writes=st.lists(
        st.lists(st.tuples(st.integers(1, 4), st.booleans()), max_size=3), min_size=1, max_size=12
    ),
    back=st.integers(0, 11),
)
def test_rewind_equals_never_having_seen_the_orphaned_blocks(
    index: IndexStore, writes: list[list[tuple[int, bool]]], back: int
) -> None:
    """Property: commit blocks 1..n, rewind to a remembered block a; the rows are those of a
    fresh index that committed only blocks 1..a."""
    keep = 5
    index.index_rewind(N, -1)
    fresh = MemoryIndex()
    n = len(writes)
    target = max(n - keep + 1, n - back, 1)
    for b, chunk in enumerate(writes, start=1):
        rows = [("trade", ref, live, f"{ref}@{b}") for ref, live in dict(chunk).items()]
        index.index_commit(N, (b, f"0x{b}"), rows, keep, {})
        if b <= target:
            fresh.index_commit(N, (b, f"0x{b}"), rows, keep, {})
    index.index_rewind(N, target)
    assert sorted(index.index_rows(N, "trade")) == sorted(fresh.index_rows(N, "trade"))
    assert index.index_blocks(N)[-1] == (target, f"0x{target}")
