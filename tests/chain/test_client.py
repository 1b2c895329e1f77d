"""Client plumbing: event cursors, unsigned transactions for wallets, re-entrancy refusal."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from gridpeer.chain import TxRequest, cost_wei, errors
from gridpeer.chain.build import _NODE_COMPILE, find_solc_js
from gridpeer.chain.codec import abi, encode_call
from gridpeer.chain.events import DeliveryConfirmed, OrderPosted, TradeCreated
from tests.chain.conftest import PRICE, Env


def test_events_by_block_range_rebuild_the_history(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    cursor = m.backend.block_number() + 1
    start, end = env.window()
    oid = m.post_offer(s, 100, PRICE, start, end)
    tid = m.buy(b, oid, 60)
    env.goto(start)
    m.confirm_delivery(env.chain.oracle, tid, 50)
    last = m.backend.block_number()
    evs = m.events(cursor, last)
    kinds = [type(e) for e in evs]
    assert kinds.count(OrderPosted) == 1 and kinds.count(TradeCreated) == 1
    posted = next(e for e in evs if isinstance(e, OrderPosted))
    traded = next(e for e in evs if isinstance(e, TradeCreated))
    done = next(e for e in evs if isinstance(e, DeliveryConfirmed))
    assert posted.order.id == oid and posted.order.owner == s.address
    assert (traded.trade.id, traded.order_id, traded.trade.buyer) == (tid, oid, b.address)
    assert (traded.trade.start, traded.trade.end, traded.trade.wh) == (start, end, 60)
    assert (done.delivered_wh, done.seller_paid) == (50, cost_wei(50, PRICE))
    assert done.buyer_refund == cost_wei(60, PRICE) - cost_wei(50, PRICE)
    # split ranges give the same events; positions are strictly increasing
    split = [e for blk in range(cursor, last + 1) for e in m.events(blk, blk)]
    assert split == evs
    pos = [(e.meta.block_number, e.meta.log_index) for e in evs]
    assert pos == sorted(set(pos))
    assert all(len(e.meta.block_hash) == 32 and len(e.meta.tx_hash) == 32 for e in evs)
    assert m.events(last + 1) == []
    assert all(m.backend.block_hash(e.meta.block_number) == e.meta.block_hash for e in evs)
    # filtered by the node: only the logs whose event is asked for
    topic = next(ev.topic for ev in abi().events.values() if ev.name == "TradeCreated")
    only = m.backend.get_logs(m.address, cursor, last, [topic])
    assert [(lg.block_number, lg.log_index) for lg in only] == [
        (traded.meta.block_number, traded.meta.log_index)
    ]


def test_build_tx_is_an_unsigned_wallet_transaction(env: Env) -> None:
    m, (s, b, *_) = env.market, env.h
    start, end = env.window()
    tx = m.build_tx("post_offer", wh=10, price=PRICE, start=start, end=end)
    assert isinstance(tx, TxRequest) and tx.to == m.address and tx.value == 0
    assert tx.data == "0x" + encode_call("postOffer", 10, PRICE, start, end).hex()
    d = tx.as_dict(s.address)
    assert d["from"] == s.address and d["value"] == "0x0"
    m.send_tx(s, tx)  # what a wallet would send
    oid = next(e for e in m.receipt_events() if isinstance(e, OrderPosted)).order.id
    buy = m.build_tx("buy", offer_id=oid, wh=10)
    assert buy.value == cost_wei(10, PRICE)
    m.send_tx(b, buy)
    with pytest.raises(ValueError, match="unknown action"):
        m.build_tx("steal")


def _compile_reenter() -> tuple[list[object], bytes]:
    from pathlib import Path

    src = (Path(__file__).parent / "contracts" / "Reenter.sol").read_text()
    inp = {
        "language": "Solidity",
        "sources": {"Reenter.sol": {"content": src}},
        "settings": {
            "evmVersion": "shanghai",
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    node = shutil.which("node")
    assert node is not None
    proc = subprocess.run(
        [node, "-e", _NODE_COMPILE, str(find_solc_js())],
        input=json.dumps(inp),
        capture_output=True,
        text=True,
        check=True,
    )
    c = json.loads(proc.stdout)["output"]["contracts"]["Reenter.sol"]["Reenter"]
    return c["abi"], bytes.fromhex(c["evm"]["bytecode"]["object"])


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to compile")
def test_withdraw_refuses_reentrancy_and_keeps_the_credit(env: Env) -> None:
    if env.kind != "embedded":
        pytest.skip("one backend is enough: same bytecode")
    m, ch, (_, b, *_) = env.market, env.chain, env.h
    _abi, code = _compile_reenter()
    r = m.backend.send(ch.admin, None, code + encode(["address"], [m.address]), 0, 1_000_000)
    attacker = r.contract_address
    assert attacker is not None
    m.add_member(ch.admin, attacker)
    start, end = env.window()
    offer = keccak(text="offer(uint256,uint256,uint256,uint256)")[:4]
    args = encode(["uint256"] * 4, [100, PRICE, start, end])
    m.backend.send(ch.admin, attacker, offer + args, 0, 300_000)  # the contract posts
    tid = m.buy(b, 1 << 2 | 1, 100)
    env.goto(start)
    m.confirm_delivery(ch.oracle, tid, 100)
    assert m.credit(attacker) == cost_wei(100, PRICE)
    pull = keccak(text="pull()")[:4]
    with pytest.raises(errors.TransferFailed):  # inner re-entry reverted -> transfer failed
        m._send_raw(m.backend, ch.admin, attacker, pull, 0, 300_000)
    assert m.credit(attacker) == cost_wei(100, PRICE)
    assert m.balance() == cost_wei(100, PRICE)
