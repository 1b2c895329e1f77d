"""The web's chain indexer (ChainHub.poll): chunked eth_getLogs from the deployment block,
a cursor kept in the store across restarts, bounded memory, and reorgs on a real anvil."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.client import MarketClient
from gridpeer.chain.hub import ChainHub
from gridpeer.chain.index import IndexStore, MemoryIndex
from gridpeer.core.clock import Clock
from gridpeer.store.factory import open_store
from tests.chain.conftest import PRICE, Env, make_env


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexStore]:
    if request.param == "memory":
        yield MemoryIndex()
        return
    url = f"sqlite:///{tmp_path}/t.db"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    s = open_store(url)
    yield s
    s.close()


@pytest.fixture
def env() -> Iterator[Env]:
    chain = open_chain("embedded")
    yield make_env("embedded", chain)
    chain.backend.close()


def spy_ranges(market: MarketClient) -> list[tuple[int, int]]:
    """Record the block range of every eth_getLogs the market's backend makes."""
    ranges: list[tuple[int, int]] = []
    real = market.backend.get_logs

    def get_logs(address: str, a: int, b: int) -> Any:
        ranges.append((a, b))
        return real(address, a, b)

    market.backend.get_logs = get_logs  # type: ignore[method-assign,assignment]
    return ranges


def hub(market: MarketClient, index: IndexStore, **kw: Any) -> ChainHub:
    return ChainHub(market, Clock(start=datetime.now(UTC)), follow_clock=False, index=index, **kw)


def trades(env: Env, n: int, settle: bool = False) -> list[int]:
    """``n`` trades h0 → h1 of 10 Wh each (each in its own blocks); settled if asked."""
    start, end = env.window(days_ahead=1)
    ids = []
    for _ in range(n):
        oid = env.market.post_offer(env.h[0], 10, PRICE, start, end)
        ids.append(env.market.buy(env.h[1], oid, 10, PRICE))
    if settle:
        env.goto(start + 1)
        for tid in ids:
            env.market.confirm_delivery(env.chain.oracle, tid, 10)
    return ids


def test_logs_are_read_in_chunks_from_the_deployment_block(env: Env, index: IndexStore) -> None:
    deployed = env.market.last_receipt.block_number if env.market.last_receipt else 0
    ids = trades(env, 3)
    h = hub(env.market, index, start_block=deployed, chunk_blocks=4, max_chunks=1000)
    ranges = spy_ranges(env.market)
    h.poll()
    assert ranges[0][0] == deployed
    assert all(b - a < 4 for a, b in ranges)
    assert [a for a, _ in ranges[1:]] == [b + 1 for _, b in ranges[:-1]]  # no gap, no overlap
    assert ranges[-1][1] == env.market.backend.block_number()
    assert sorted(h.trades) == sorted(ids)


def test_the_cursor_survives_a_restart_in_the_store(env: Env, index: IndexStore) -> None:
    first = trades(env, 2)
    h = hub(env.market, index)
    h.poll()
    head = env.market.backend.block_number()
    later = trades(env, 1)
    again = hub(env.market, index)  # a restarted web app, same store
    ranges = spy_ranges(env.market)
    again.poll()
    assert ranges and ranges[0][0] == head + 1  # nothing before the cursor read again
    assert sorted(again.trades) == sorted(first + later)
    assert again.trade(first[0]) == h.trades[first[0]]
    assert {o for o in again.orders} == set()  # every offer was bought whole


def test_memory_keeps_open_trades_and_the_newest_finished_ones(env: Env, index: IndexStore) -> None:
    settled = trades(env, 5, settle=True)
    open_ = trades(env, 2)
    h = hub(env.market, index, keep_trades=2)
    h.poll()
    assert set(h.trades) == set(open_) | set(settled[-2:])
    old = h.trade(settled[0])  # read back from the index
    assert old is not None and old.status == "settled" and old.delivered_wh == 10
    again = hub(env.market, index, keep_trades=2)
    again.poll()
    assert set(again.trades) == set(h.trades)


@pytest.mark.anvil
def test_a_reorg_rolls_the_index_back_to_the_common_ancestor(
    anvil_url: str, index: IndexStore
) -> None:
    chain = open_chain(anvil_url)
    market = chain.deploy_market(grace_s=900)
    market.set_schedule(chain.admin, Schedule("open"))
    h1, h2 = chain.houses(2, market)
    w3 = market.backend.w3  # type: ignore[attr-defined]
    start = market.now() + 3600
    kept = market.buy(h2, market.post_offer(h1, 10, PRICE, start, start + 60), 10, PRICE)
    h = hub(market, index)
    h.poll()
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    orphan_offer = market.post_offer(h1, 20, PRICE, start, start + 60)
    orphan = market.buy(h2, orphan_offer, 5, PRICE)
    h.poll()
    assert orphan in h.trades and orphan_offer in h.orders
    w3.provider.make_request("evm_revert", [snap])
    market.backend._nonces.clear()  # type: ignore[attr-defined]
    for _ in range(3):  # a longer fork without the orphaned blocks
        w3.provider.make_request("evm_mine", [])
    replacement = market.buy(h2, market.post_offer(h1, 30, PRICE, start, start + 60), 30, PRICE)
    h.poll()
    assert h.reorgs == 1
    assert set(h.trades) == {kept, replacement}
    assert orphan_offer not in h.orders and h.trade(orphan) is None
    assert h.cursor == market.backend.block_number() + 1
    again = hub(market, index)  # and the store holds the same after the rewind
    again.poll()
    assert set(again.trades) == {kept, replacement}


def test_a_node_that_is_down_is_not_taken_for_a_reorg(env: Env, index: IndexStore) -> None:
    """While the node is unreachable, poll fails (the caller retries) and the index keeps
    everything: before, every missing block hash looked like a reorg deeper than the
    index remembered, and each anvil restart re-indexed from the deployment block."""
    ids = trades(env, 3)
    h = hub(env.market, index)
    h.poll()
    cursor, backend = h.cursor, env.market.backend

    def down(*_: Any) -> Any:
        raise ConnectionError("Connection refused")  # what requests raises: an OSError

    real_hash, real_number = backend.block_hash, backend.block_number
    backend.block_hash = down  # type: ignore[method-assign,assignment]
    with pytest.raises(OSError):
        h._check_reorg()
    backend.block_number = down  # type: ignore[method-assign]
    with pytest.raises(OSError):
        h.poll()
    backend.block_hash, backend.block_number = real_hash, real_number  # type: ignore[method-assign]
    h.poll()
    assert h.reorgs == 0 and h.cursor >= cursor
    assert set(ids) <= set(h.trades)


def test_all_done_waits_for_every_window_and_every_settlement(env: Env, index: IndexStore) -> None:
    h = hub(env.market, index)
    h.poll()
    assert not h.all_done(2**40)  # no trade yet: nothing to wait for is not "done"
    ids = trades(env, 2)
    h.poll()
    end = h.trades[ids[0]].end
    assert not h.all_done(end + 1)  # windows over, nothing settled
    env.goto(h.trades[ids[0]].start + 1)
    env.market.confirm_delivery(env.chain.oracle, ids[0], 10)
    h.poll()
    assert not h.all_done(end + 1)  # one still open
    env.market.confirm_delivery(env.chain.oracle, ids[1], 10)
    h.poll()
    assert not h.all_done(end)  # the window is not over yet
    assert h.all_done(end + 1)
