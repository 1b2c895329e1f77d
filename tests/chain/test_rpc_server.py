"""The embedded chain served over JSON-RPC: wire format, anvil's dev methods, errors, and
two processes' worth of clients sharing keys (every market test also runs on it: the
``served`` backend in conftest)."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest

from gridpeer.chain import Chain, open_chain
from gridpeer.chain.accounts import dev_account
from gridpeer.chain.events import OrderPosted
from gridpeer.chain.rpc_server import RpcServer, to_wire
from gridpeer.chain.web3_backend import Web3Backend
from tests.chain.conftest import PRICE, make_env


def post(url: str, body: object, method: str = "POST") -> tuple[int, dict[str, str], object]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return resp.status, dict(resp.headers), json.loads(raw) if raw else None


def rpc(url: str, method: str, *params: object) -> object:
    _, _, body = post(url, {"jsonrpc": "2.0", "id": 9, "method": method, "params": list(params)})
    assert isinstance(body, dict) and body["id"] == 9 and body["jsonrpc"] == "2.0"
    return body


@pytest.fixture
def served() -> Iterator[tuple[Chain, RpcServer]]:
    chain = open_chain("embedded")
    with RpcServer(chain.backend) as server:  # type: ignore[arg-type]
        yield chain, server


def test_to_wire_speaks_hex_quantities_and_data() -> None:
    tester = {"number": 26, "logsBloom": 1, "hash": b"\x01\x02", "ok": True, "txs": [0, None]}
    assert to_wire(tester) == {
        "number": "0x1a",
        "logsBloom": "0x" + "00" * 255 + "01",
        "hash": "0x0102",
        "ok": True,
        "txs": ["0x0", None],
    }


def test_blocks_and_balances_are_in_wire_format(served: tuple[Chain, RpcServer]) -> None:
    chain, server = served
    block = rpc(server.url, "eth_getBlockByNumber", "latest", False)["result"]  # type: ignore[index]
    assert block["number"] == hex(chain.backend.block_number())
    assert block["timestamp"] == hex(chain.backend.now())
    assert len(block["logsBloom"]) == 2 + 512 and len(block["hash"]) == 66
    assert rpc(server.url, "eth_chainId")["result"] == hex(chain.backend.chain_id)  # type: ignore[index]
    rich = chain.backend.w3.eth.accounts[0]  # type: ignore[attr-defined]
    got = rpc(server.url, "eth_getBalance", rich, "latest")["result"]  # type: ignore[index]
    assert got == hex(chain.backend.balance(rich))


def test_anvil_dev_methods_set_time_and_balance(served: tuple[Chain, RpcServer]) -> None:
    chain, server = served
    node = Web3Backend.rpc(server.url)
    ts = node.now() + 3600
    node.set_time(ts)  # evm_setNextBlockTimestamp
    assert ts - 1 <= chain.backend.now() <= ts
    who = dev_account("h7").address
    node.fund(who, 5 * 10**18)  # anvil_setBalance
    assert chain.backend.balance(who) == 5 * 10**18
    lower = rpc(server.url, "anvil_setBalance", who, hex(10**18))
    assert "can only raise" in lower["error"]["message"]  # type: ignore[index]
    assert chain.backend.balance(who) == 5 * 10**18


def test_refusals_decode_to_the_same_custom_errors(served: tuple[Chain, RpcServer]) -> None:
    chain, server = served
    env = make_env("embedded", chain)
    from gridpeer.chain import MarketClient, errors

    over_rpc = MarketClient(Web3Backend.rpc(server.url), env.market.address)
    start, end = env.window()
    oid = env.market.post_offer(env.h[0], 100, PRICE, start, end)
    with pytest.raises(errors.SelfTrade):
        over_rpc.buy(env.h[0], oid, 10)
    with pytest.raises(errors.UnknownId):
        over_rpc.cancel(env.h[1], 12345)
    reverted = rpc(
        server.url,
        "eth_call",
        {"to": env.market.address, "data": "0x" + _cancel_data(12345).hex()},
        "latest",
    )
    err = reverted["error"]  # type: ignore[index]
    assert err["code"] == 3 and err["message"] == "execution reverted"
    assert err["data"].startswith("0x") and len(err["data"]) > 10


def _cancel_data(order_id: int) -> bytes:
    from gridpeer.chain.codec import encode_call

    return encode_call("cancel", order_id)


def test_malformed_requests_get_json_rpc_errors(served: tuple[Chain, RpcServer]) -> None:
    _, server = served
    req = urllib.request.Request(server.url, b"{not json", {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["error"]["code"] == -32700
    assert rpc(server.url, "no_such_method")["error"]["code"] == -32601  # type: ignore[index]
    _, _, body = post(server.url, {"jsonrpc": "2.0", "id": 1})
    assert body["error"]["code"] == -32600  # type: ignore[index]


def test_batches_answer_in_order(served: tuple[Chain, RpcServer]) -> None:
    chain, server = served
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "net_version", "params": []},
    ]
    _, _, body = post(server.url, batch)
    assert [r["id"] for r in body] == [1, 2]  # type: ignore[union-attr]
    assert body[0]["result"] == hex(chain.backend.block_number())  # type: ignore[index]


def test_browser_wallets_may_call_it_cross_origin(served: tuple[Chain, RpcServer]) -> None:
    _, server = served
    status, headers, _ = post(server.url, None, method="OPTIONS")
    assert status == 204 and headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Type" in headers["Access-Control-Allow-Headers"]


def test_two_clients_sharing_a_key_both_get_their_transactions_in(
    served: tuple[Chain, RpcServer],
) -> None:
    """The demo's web process and a house's agent sign with the same dev key through
    different clients: each client's cached nonce goes stale, and a send must re-read
    the node's count instead of failing."""
    chain, server = served
    env = make_env("embedded", chain)
    from gridpeer.chain import MarketClient

    over_rpc = MarketClient(Web3Backend.rpc(server.url), env.market.address)
    start, end = env.window()
    seller = env.h[0]
    ids = []
    for k in range(6):  # alternate: every send follows one made by the other client
        client = env.market if k % 2 == 0 else over_rpc
        ids.append(client.post_offer(seller, 10 + k, PRICE, start, end))
    assert len(set(ids)) == 6
    assert [env.market.order(i).remaining_wh for i in ids] == [10, 11, 12, 13, 14, 15]  # type: ignore[union-attr]


def test_concurrent_clients_are_serialised_by_the_lock(served: tuple[Chain, RpcServer]) -> None:
    chain, server = served
    env = make_env("embedded", chain)
    from gridpeer.chain import MarketClient

    start, end = env.window()
    errors: list[BaseException] = []

    def house(k: int) -> None:
        try:
            c = MarketClient(Web3Backend.rpc(server.url), env.market.address)
            for _ in range(5):
                c.post_offer(env.h[k], 7, PRICE, start, end)
        except BaseException as exc:
            errors.append(exc)

    before = env.market.backend.block_number()
    threads = [threading.Thread(target=house, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    posted = [e for e in env.market.events(before + 1) if isinstance(e, OrderPosted)]
    assert len(posted) == 20 and {e.order.remaining_wh for e in posted} == {7}
    assert {e.order.owner for e in posted} == {h.address for h in env.h}


def test_only_the_embedded_chain_is_served() -> None:
    chain = open_chain("revm")
    with pytest.raises(ValueError, match="only the embedded chain"):
        RpcServer(chain.backend)  # type: ignore[arg-type]
