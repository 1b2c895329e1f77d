"""The indexer's pure helpers: which blocks to read next, and where a reorg rewinds to."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.chain.index import ReorgTooDeep, common_ancestor, next_chunk


def test_chunks_stop_at_the_confirmed_head() -> None:
    assert next_chunk(0, 10_000, 0, 2000) == (0, 1999)
    assert next_chunk(9000, 10_000, 0, 2000) == (9000, 10_000)
    assert next_chunk(9999, 10_000, 2, 2000) is None
    assert next_chunk(9998, 10_000, 2, 2000) == (9998, 9998)
    with pytest.raises(ValueError):
        next_chunk(0, 1, 0, 0)


@given(
    cursor=st.integers(0, 10**6),
    head=st.integers(0, 10**6),
    conf=st.integers(0, 12),
    span=st.integers(1, 5000),
)
def test_chunks_cover_every_confirmed_block_once(
    cursor: int, head: int, conf: int, span: int
) -> None:
    got = next_chunk(cursor, head, conf, span)
    if got is None:
        assert cursor > head - conf
    else:
        a, b = got
        assert a == cursor and a <= b <= head - conf and b - a < span


def test_the_newest_still_canonical_block_is_the_ancestor() -> None:
    blocks = [(10, "0xa"), (20, "0xb"), (30, "0xc")]
    same = {10: "0xa", 20: "0xb", 30: "0xc"}
    assert common_ancestor(blocks, same.get) is None
    assert common_ancestor(blocks, {**same, 30: "0xz"}.get) == 20
    assert common_ancestor(blocks, {10: "0xa"}.get) == 10  # 20 and 30 gone: a shorter chain
    none: dict[int, str] = {}
    with pytest.raises(ReorgTooDeep):
        common_ancestor(blocks, none.get)
    assert common_ancestor([], none.get) is None
