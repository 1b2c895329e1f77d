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
