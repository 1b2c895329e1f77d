"""Web3Backend's transactions on a real anvil: EIP-1559 fees that follow the base fee, the
nonce cache, and replacement of a transaction stuck past its deadline (automine off)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account

from gridpeer.chain.anvil import AnvilNode, anvil_binary
from gridpeer.chain.backend import Receipt
from gridpeer.chain.fees import FeePolicy
from gridpeer.chain.web3_backend import Web3Backend

pytestmark = pytest.mark.anvil
GWEI = 10**9
ETHER = 10**18


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    """An anvil of this module's own: the tests change its mining mode and base fee."""
    try:
        anvil_binary()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    with AnvilNode() as n:
        yield n


def rpc(b: Web3Backend, method: str, *params: Any) -> Any:
    resp = b.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in resp, resp
    return resp.get("result")


def funded(b: Web3Backend) -> Any:
    key = Account.create()
    b.fund(key.address, ETHER)
    return key


def wait_until(cond: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_transactions_are_eip1559_priced_from_the_next_base_fee(node: AnvilNode) -> None:
    b = Web3Backend.rpc(node.url, fees=FeePolicy(refresh_s=0.0))
    key = funded(b)
    r = b.send(key, key.address, b"", 1, 21_000)
    tx = b.w3.eth.get_transaction(r.tx_hash)  # type: ignore[arg-type]
    assert int(tx["type"]) == 2
    base = int(b.w3.eth.get_block(r.block_number)["baseFeePerGas"])
    assert int(tx["maxPriorityFeePerGas"]) == GWEI  # the policy's floor (anvil blocks tip 0)
    assert int(tx["maxFeePerGas"]) >= base + GWEI
    assert r.fee_wei == 21_000 * (base + GWEI)


def test_fees_follow_a_rising_base_fee_instead_of_a_price_fixed_at_start(node: AnvilNode) -> None:
    b = Web3Backend.rpc(node.url, fees=FeePolicy(refresh_s=0.0))
    key = funded(b)
    b.send(key, key.address, b"", 0, 21_000)
    rpc(b, "anvil_setNextBlockBaseFeePerGas", hex(200 * GWEI))
    rpc(b, "evm_mine")
    r = b.send(key, key.address, b"", 0, 21_000)
    tx = b.w3.eth.get_transaction(r.tx_hash)  # type: ignore[arg-type]
    assert int(b.w3.eth.get_block(r.block_number)["baseFeePerGas"]) > 100 * GWEI
    assert int(tx["maxFeePerGas"]) >= 2 * 100 * GWEI


def test_a_refused_transaction_does_not_advance_the_nonce(node: AnvilNode) -> None:
    b = Web3Backend.rpc(node.url)
    key = Account.create()  # no funds: the node refuses the transaction
    with pytest.raises(Exception, match=r"(?i)fund"):
        b.send(key, key.address, b"", 1, 21_000)
    b.fund(key.address, ETHER)
    r = b.send(key, key.address, b"", 1, 21_000)
    assert int(b.w3.eth.get_transaction(r.tx_hash)["nonce"]) == 0  # type: ignore[arg-type]


@pytest.fixture
def manual_mining(node: AnvilNode) -> Iterator[Web3Backend]:
    """The node with automine off (blocks only on ``evm_mine``), restored afterwards."""
    b = Web3Backend.rpc(node.url)
    rpc(b, "evm_setAutomine", False)
    try:
        yield b
    finally:
        rpc(b, "evm_setAutomine", True)
        rpc(b, "evm_mine")


def test_a_stuck_transaction_is_replaced_with_the_same_nonce_and_higher_fees(
    node: AnvilNode, manual_mining: Web3Backend
) -> None:
    policy = FeePolicy(replace_after_s=0.2, receipt_timeout_s=60.0, refresh_s=0.0, poll_s=0.02)
    b = Web3Backend.rpc(node.url, fees=policy)
    key = funded(manual_mining)
    rpc(b, "evm_mine")  # the funding is anvil_setBalance; nothing else is pending
    first = b.suggested_fees()
    nonce = b.w3.eth.get_transaction_count(key.address)
    out: list[Receipt] = []
    sender = threading.Thread(target=lambda: out.append(b.send(key, key.address, b"", 7, 21_000)))
    sender.start()
    wait_until(lambda: b.replaced >= 2)  # not mined: replaced, and the replacement too
    rpc(b, "evm_mine")
    sender.join(30)
    assert out, "send did not return after the block was mined"
    tx = b.w3.eth.get_transaction(out[0].tx_hash)  # type: ignore[arg-type]
    assert int(tx["nonce"]) == nonce
    assert int(tx["maxPriorityFeePerGas"]) * 64 >= first.priority * 81  # two bumps of 12.5 %
    assert int(tx["maxFeePerGas"]) * 64 >= first.max_fee * 81
    assert b.w3.eth.get_transaction_count(key.address) == nonce + 1  # exactly one version mined


def test_a_transaction_given_up_leaves_no_stale_nonce(
    node: AnvilNode, manual_mining: Web3Backend
) -> None:
    policy = FeePolicy(replace_after_s=60.0, receipt_timeout_s=0.3, poll_s=0.02)
    b = Web3Backend.rpc(node.url, fees=policy)
    key = funded(manual_mining)
    with pytest.raises(TimeoutError):
        b.send(key, key.address, b"", 1, 21_000)
    rpc(b, "evm_mine")  # the node still mines it later
    rpc(b, "evm_setAutomine", True)
    r = b.send(key, key.address, b"", 1, 21_000)  # the next one asks the node for the nonce
    assert int(b.w3.eth.get_transaction(r.tx_hash)["nonce"]) == 1  # type: ignore[arg-type]


def test_the_deployment_block_is_found_by_binary_search(node: AnvilNode) -> None:
    from gridpeer.chain.open import Chain

    b = Web3Backend.rpc(node.url)
    chain = Chain(b)
    for _ in range(5):
        rpc(b, "evm_mine")
    market = chain.deploy_market()
    assert market.last_receipt is not None
    for _ in range(3):
        rpc(b, "evm_mine")
    assert b.deployment_block(market.address) == market.last_receipt.block_number
    with pytest.raises(ValueError, match="no contract"):
        b.deployment_block(chain.admin.address)


def test_a_nonce_gap_left_by_a_node_that_lost_transactions_is_detected(node: AnvilNode) -> None:
    from gridpeer.chain.web3_backend import NonceGap

    b = Web3Backend.rpc(node.url, fees=FeePolicy(gap_check_s=0.1, poll_s=0.02))
    key = funded(b)
    b.send(key, key.address, b"", 1, 21_000)
    b._nonces[key.address] += 1  # as if the node restarted without our last transaction
    with pytest.raises(NonceGap):
        b.send(key, key.address, b"", 1, 21_000)
    r = b.send(key, key.address, b"", 1, 21_000)  # the next send asks the node again
    assert int(b.w3.eth.get_transaction(r.tx_hash)["nonce"]) == 1  # type: ignore[arg-type]
