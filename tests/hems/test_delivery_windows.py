"""Several trades of one house in one window, through a real Mosquitto and the embedded
chain: the oracle and the demo's agents (simulated houses on a shared P2P line) meter
both sides, one relay per direction serving all of its window's trades at once, and every
seller is paid for what it delivered."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.events import DeliveryConfirmed
from gridpeer.core.clock import Clock
from gridpeer.devices.trace import HouseTrace
from gridpeer.hems.delivery_power import P2PLine, PowerSource, TracePower
from gridpeer.oracle.rules import Action, Reading, Tolerance, attribute, settle
from gridpeer.oracle.service import OracleConfig
from gridpeer.runtime.delivery_runtime import DeliveryRuntime
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import Direction

pytestmark = pytest.mark.mosquitto

PRICE = 10**15  # wei per kWh
TOLERANCE = Tolerance(pct=10.0)
"""15-second windows: one tick of misalignment between two houses' relays is ~3 % of a
window, so the meters are judged with 10 % here (2 % for hour-long windows)."""
SURPLUS_W = 360_000.0  # a seller's PV surplus: 100 Wh per second, so windows are short


def flat_trace(house: str, pv_w: float) -> HouseTrace:
    z = np.zeros(48)
    start = datetime.fromtimestamp(time.time() - 3600, UTC)
    return HouseTrace(house, start, 300, z + 500.0, z + pv_w, z, z, z, z, z, z, z + 230.0)


def test_buyers_with_two_and_three_trades_and_a_seller_with_two_buyers(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    chain = open_chain("embedded")
    market = chain.deploy_market(3600)
    market.set_schedule(chain.admin, Schedule("open"))
    keys = dict(zip(["h1", "h2", "h3", "h4", "h5"], chain.houses(5, market), strict=True))
    lock = threading.RLock()
    line = P2PLine()
    power: dict[str, PowerSource] = {
        h: TracePower(flat_trace(h, SURPLUS_W + 500.0 if h < "h4" else 0.0), 10**6, line=line)
        for h in keys
    }
    clock = Clock(start=datetime.fromtimestamp(market.now(), UTC))
    rt = DeliveryRuntime(
        market,
        chain.oracle,
        {k.address: h for h, k in keys.items()},
        mosquitto.address.host,
        mosquitto.address.port,
        tmp_path,
        clock,
        OracleConfig(
            community="multi",
            lead_s=30.0,
            result_grace_s=5.0,
            poll_s=0.2,
            tolerance_pct=TOLERANCE.pct,
        ),
        power=power,
        lock=lock,
    )
    stop = threading.Event()

    def follow_clock() -> None:  # chain time follows the model clock (as in the demo)
        while not stop.wait(0.2):
            with lock:
                if int(clock.timestamp()) > market.now():
                    market.set_time(int(clock.timestamp()))

    ticker = threading.Thread(target=follow_clock, daemon=True)
    rt.start()
    ticker.start()
    try:
        with lock:
            t0 = market.now() + 10
            plan = [  # (seller, buyer, Wh, window)
                ("h1", "h5", 300, (t0, t0 + 15)),  # h5 buys twice in one window
                ("h2", "h5", 200, (t0, t0 + 15)),
                ("h1", "h4", 400, (t0 + 20, t0 + 35)),  # h4 buys three times
                ("h2", "h4", 250, (t0 + 20, t0 + 35)),
                ("h3", "h4", 150, (t0 + 20, t0 + 35)),
                ("h3", "h4", 300, (t0 + 40, t0 + 55)),  # h3 sells to two buyers
                ("h3", "h5", 100, (t0 + 40, t0 + 55)),
            ]
            trades: dict[int, tuple[str, str, int]] = {}
            for seller, buyer, wh, (s, e) in plan:
                oid = market.post_offer(keys[seller], wh, PRICE, s, e)
                trades[market.buy(keys[buyer], oid, wh)] = (seller, buyer, wh)
        deadline = time.monotonic() + 120
        conf: dict[int, DeliveryConfirmed] = {}
        while time.monotonic() < deadline and len(conf) < len(trades):
            time.sleep(0.5)
            with lock:
                events = market.events(0)
            conf = {e.trade_id: e for e in events if isinstance(e, DeliveryConfirmed)}
        assert set(conf) == set(trades), f"confirmed {sorted(conf)} of {sorted(trades)}"
        results = {  # both meters' results, as the oracle's rule sees them
            tid: (rt.agents[seller].executor.tasks[tid], rt.agents[buyer].executor.tasks[tid])
            for tid, (seller, buyer, _) in trades.items()
        }
        readings = [
            Reading(
                tid,
                seller,
                buyer,
                (out.command.window_start, out.command.window_end),
                wh,
                out.result().measured_wh,
                inn.result().measured_wh,
            )
            for tid, (seller, buyer, wh) in trades.items()
            for out, inn in [results[tid]]
        ]
        # a buyer's (or seller's) one meter is judged by its total over the window's trades
        attributed = attribute(readings)
        for tid, (seller, buyer, wh) in trades.items():
            out = rt.agents[seller].executor.tasks[tid]
            inn = rt.agents[buyer].executor.tasks[tid]
            assert out.command.direction is Direction.OUT
            assert inn.command.direction is Direction.IN
            sold, bought = out.result().measured_wh, inn.result().measured_wh
            # both meters counted (nearly) the whole trade: no trade left at 0 Wh
            assert sold >= 0.9 * wh and bought >= 0.9 * wh, (tid, sold, bought, wh)
            c = conf[tid]
            verdict = settle(wh, *attributed[tid], deadline_passed=False, tolerance=TOLERANCE)
            assert verdict.action is Action.CONFIRM and c.delivered_wh == verdict.delivered_wh
            assert c.seller_paid == c.delivered_wh * PRICE // 1000  # paid for metered Wh
            assert c.seller_paid + c.buyer_refund == wh * PRICE // 1000
    finally:
        stop.set()
        ticker.join()
        rt.stop()
