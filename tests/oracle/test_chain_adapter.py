"""The oracle's chain view tells a node that is down from a block that is missing."""

from __future__ import annotations

import pytest
from eth_account import Account

from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.client import MarketClient
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.oracle.chain_adapter import MarketChainView


@pytest.mark.anvil
def test_block_hash_raises_when_the_node_is_down() -> None:
    """A refused connection is not "no such block": the follower must not take it for a
    reorg (it would rewind its cursor); it fails the tick and the outage path takes over."""
    with AnvilNode() as node:
        market = MarketClient(Web3Backend.rpc(node.url), "0x" + "11" * 20)
        view = MarketChainView(market, Account.create(), {})
        assert view.block_hash(0) is not None
    with pytest.raises(OSError):  # the node is gone
        view.block_hash(0)
    assert view.block_hash(-1) is None


@pytest.mark.anvil
def test_block_hash_of_a_block_beyond_the_head_is_none(anvil_url: str) -> None:
    backend = Web3Backend.rpc(anvil_url)
    market = MarketClient(backend, "0x" + "11" * 20)
    view = MarketChainView(market, Account.create(), {})
    head = view.head()
    assert view.block_hash(head) is not None
    assert view.block_hash(head + 10_000) is None


@pytest.mark.anvil
def test_the_node_sends_the_oracle_only_the_logs_that_create_trades(anvil_url: str) -> None:
    """Orders posted without a trade are not read by the oracle at all."""
    from gridpeer.chain import Schedule, open_chain
    from gridpeer.oracle.chain_adapter import TRADE_TOPICS

    chain = open_chain(anvil_url)
    market = chain.deploy_market(grace_s=900)
    market.set_schedule(chain.admin, Schedule("open"))
    h1, h2 = chain.houses(2, market)
    first = market.backend.block_number() + 1
    start = market.now() + 600
    for _ in range(3):
        market.post_offer(h1, 10, 10**15, start, start + 60)
    oid = market.post_offer(h1, 10, 10**15, start, start + 60)
    tid = market.buy(h2, oid, 10)
    head = market.backend.block_number()
    everything = market.backend.get_logs(market.address, first, head)
    trades = market.backend.get_logs(market.address, first, head, TRADE_TOPICS)
    assert len(everything) > len(trades) == 1
    view = MarketChainView(market, chain.oracle, {h1.address: "h1", h2.address: "h2"})
    assert [e.trade_id for e in view.trade_events(first, head)] == [tid]
