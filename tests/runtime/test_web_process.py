"""``gridpeer demo`` serves the web app from a process of its own: it reads the demo's
store, signs the demo houses' actions, and reaches the embedded chain over JSON-RPC; it
stops with the demo, and also when the demo process is killed."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
from typing import Any

import psutil

from gridpeer.chain.client import MarketClient
from gridpeer.chain.events import OrderPosted
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.core.defaults import DEMO_FEEDER
from gridpeer.runtime.web_process import shareable
from tests.web.demoproc import DemoProcess, start_demo


def _call(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _web_child(demo: DemoProcess) -> psutil.Process:
    port = int(demo.url.rsplit(":", 1)[1])
    for child in psutil.Process(demo.proc.pid).children():
        if any(c.laddr.port == port and c.status == "LISTEN" for c in child.net_connections()):
            return child
    raise AssertionError(f"no child process of the demo listens on {port}")


def _chain_url(demo: DemoProcess) -> str:
    for line in demo.lines:
        if m := re.search(r"Ethereum JSON-RPC on (http://\S+)", line):
            return m.group(1)
    raise AssertionError("the demo did not print its JSON-RPC URL:\n" + "".join(demo.lines))


def test_web_app_runs_in_its_own_process_and_trades_over_json_rpc() -> None:
    # 14.6 UTC = 10:36 in Valparaíso: bids for 13:00-14:00 local are open. Agents off, so
    # this house's offer is the only one.
    demo = start_demo("--speed", "60", "--start-hour", "14.6", "--no-agents")
    try:
        web = _web_child(demo)
        assert web.pid != demo.proc.pid
        status, _ = _call(demo.url + "/api/overview")
        assert status == 200
        _, st = _call(demo.url + "/api/market/status")
        assert st["bidding_open"], st
        start, end = st["open_windows"][0]["start"], st["open_windows"][0]["end"]
        body = {"signer": "demo:h1", "wh": 321, "price": 150 * 10**12, "start": start, "end": end}
        status, out = _call(demo.url + "/api/market/offers", body)
        assert status == 200, out
        # the offer is on the demo's chain, read straight from its JSON-RPC endpoint
        chain = MarketClient(Web3Backend.rpc(_chain_url(demo)), st["contract"])
        posted = [e for e in chain.events(0) if isinstance(e, OrderPosted)]
        assert [(e.order.remaining_wh, e.order.side) for e in posted] == [(321, "offer")]
        deadline = time.monotonic() + 20
        offers: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not offers:
            offers = _call(demo.url + "/api/market/offers")[1]
            time.sleep(0.2)
        assert [o["remaining_wh"] for o in offers] == [321]
        # the demo's default feeder: the live power flow of its houses (loaded in the
        # background of the web process: 503 until then)
        deadline = time.monotonic() + 60
        status, grid = _call(demo.url + "/api/grid")
        while status == 503 and time.monotonic() < deadline:
            time.sleep(0.5)
            status, grid = _call(demo.url + "/api/grid")
        assert status == 200, grid
        assert (grid["network"], grid["houses"], grid["converged"]) == (DEMO_FEEDER, 5, True)
    finally:
        assert demo.stop() == 0, "".join(demo.lines)
    assert not web.is_running() or web.status() == psutil.STATUS_ZOMBIE


def test_web_process_stops_when_the_demo_is_killed() -> None:
    demo = start_demo("--no-agents")
    web = _web_child(demo)
    demo.proc.send_signal(signal.SIGKILL)
    demo.proc.wait(10)
    try:
        web.wait(15)  # the pipe to the demo closed: the web process shuts itself down
    finally:
        if web.is_running():
            web.kill()
            raise AssertionError("the web process outlived the demo")


def test_in_memory_stores_cannot_be_shared() -> None:
    assert not shareable("sqlite:///:memory:")
    assert shareable("sqlite:////tmp/x/gridpeer.db")
    assert shareable("postgresql://gridpeer@127.0.0.1:5432/gridpeer")
