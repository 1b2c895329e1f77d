"""Cursor range planning and reorg detection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.oracle.follower import ReorgTooDeep, common_ancestor, next_range
from gridpeer.oracle.ports import BlockRef


def chain(n: int, fork_at: int | None = None) -> dict[int, str]:
    return {i: (f"0xb{i}" if fork_at is None or i < fork_at else f"0xf{i}") for i in range(n)}


def test_no_reorg_returns_none() -> None:
    c = chain(10)
    hist = [BlockRef(i, c[i]) for i in range(5, 10)]
    assert common_ancestor(hist, c.get) is None


def test_reorg_rewinds_to_newest_canonical_block() -> None:
    old = chain(10)
    new = chain(12, fork_at=8)
    hist = [BlockRef(i, old[i]) for i in range(4, 10)]
    assert common_ancestor(hist, new.get) == BlockRef(7, old[7])


def test_reorg_deeper_than_history_is_an_error() -> None:
    old = chain(10)
    new = chain(10, fork_at=2)
    hist = [BlockRef(i, old[i]) for i in range(5, 10)]
    with pytest.raises(ReorgTooDeep):
        common_ancestor(hist, new.get)


def test_shortened_chain_counts_as_reorg() -> None:
    old = chain(10)
    new = chain(8)
    hist = [BlockRef(i, old[i]) for i in range(5, 10)]
    assert common_ancestor(hist, new.get) == BlockRef(7, old[7])


@given(
    st.integers(min_value=-1, max_value=1000),
    st.integers(min_value=0, max_value=1100),
    st.integers(min_value=0, max_value=12),
    st.integers(min_value=1, max_value=50),
)
def test_ranges_cover_confirmed_blocks_exactly_once(
    last: int, head: int, conf: int, span: int
) -> None:
    seen: list[int] = []
    cur = last
    while (r := next_range(cur, head, conf, span)) is not None:
        a, b = r
        assert a == cur + 1 and a <= b and b - a < span
        seen.extend(range(a, b + 1))
        cur = b
    assert seen == list(range(last + 1, max(last, head - conf) + 1))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        next_range(0, 10, -1, 5)
