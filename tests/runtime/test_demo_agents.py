"""The main job as a user runs it: `gridpeer demo` with its automatic trading agents.

Houses' agents trade on their own in the thesis's first bidding window, the oracle
commands the deliveries, the meters count the Wh, and the contract settles: a trade
reaches ``settled`` with the seller paid for delivered Wh and the buyer refunded the rest.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from gridpeer.runtime.run import REMIND_AFTER_S
from tests.web.demoproc import start_demo


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def test_agents_trade_and_trades_settle_on_their_own() -> None:
    # 14.4 UTC = 10:24 in Valparaíso: bidding for 13:00-14:00 opens at 10:30 local; at
    # 480x an hour is 7.5 s, so the window is delivered and settled within ~40 s of wall.
    demo = start_demo("--speed", "480", "--start-hour", "14.4", "--duration", "10")
    try:
        deadline = time.monotonic() + 150
        settled: list[dict[str, Any]] = []
        trades: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not settled and demo.proc.poll() is None:
            time.sleep(2)
            trades = _get(demo.url + "/api/market/trades")
            settled = [t for t in trades if t["status"] == "settled"]
        assert settled, f"no settled trade; trades: {trades}\n" + "".join(demo.lines[-30:])
        t = settled[0]
        assert t["seller_house"] != t["buyer_house"]
        assert 0 <= t["delivered_wh"] <= t["wh"]
        paid, refund, escrow = int(t["seller_paid"]), int(t["buyer_refund"]), int(t["escrow"])
        assert paid + refund == escrow  # every escrowed wei went to one of the two
        assert paid == t["delivered_wh"] * int(t["price"]) // 1000
        # the reminder comes REMIND_AFTER_S after start-up; a quick settlement can beat it
        until = time.monotonic() + REMIND_AFTER_S + 10
        while time.monotonic() < until and not any("is running: open" in x for x in demo.lines):
            time.sleep(0.5)
    finally:
        assert demo.stop() == 0, "".join(demo.lines)
    # the URL is printed last at start-up, and once more when start-up's logging is over
    again = [line for line in demo.lines if "gridpeer demo is running: open" in line]
    assert again and demo.url in again[0], "".join(demo.lines)
