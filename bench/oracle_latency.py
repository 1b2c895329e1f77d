"""Benchmark: from a trade's block being mined to both agents holding the delivery command.

Usage: ``python bench/oracle_latency.py [--trades 200] [--houses 10] [--json]``.

Per node (anvil, then the embedded web3 tester) it starts a Mosquitto on a free
127.0.0.1 port, deploys the market, posts one offer per seller for a window that the
oracle's lead already covers (so commands go out at once), then buys ``--trades`` slices
one after the other, ``--gap`` seconds apart (default 20 ms: 50 trades/s). Each buy is
one mined block; its time is when the buyer's client got the receipt (the earliest
moment anyone can know the block). The oracle and one
delivery agent per house run in this process (threads), as in ``gridpeer demo``; on
anvil the oracle has its own RPC connection, on the embedded chain it shares the one
in-process node (and its lock) with the traders.

Reported per node: p50 / p99 of max(seller, buyer) command arrival − mined, in ms;
``doubled`` = deliveries accepted twice by an agent; ``lost`` = trades where a party
never got its command. Baseline measured in the same run: one QoS 1 publish → receive
through the same broker (the MQTT floor); printed as ratio p50 / baseline p50.
Target on anvil: p99 <= 250 ms with doubled = 0 and lost = 0. With ``--json`` the last
line is ``{"node": "anvil", "trades", "p50_ms", "p99_ms", "doubled", "lost", ...}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.client import MarketClient
from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress, MqttClient
from gridpeer.hems.delivery_power import ConstantPower
from gridpeer.oracle.service import OracleConfig
from gridpeer.runtime.delivery_runtime import DeliveryRuntime
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import DeliveryCommand

PRICE = 10**15


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def mqtt_baseline(port: int, n: int = 200) -> float:
    """p50 of one QoS 1 publish → receive through the broker, ms."""
    got: dict[int, float] = {}
    ev = threading.Event()

    def on(topic: str, payload: bytes) -> None:
        got[int(payload)] = time.perf_counter()
        ev.set()

    broker = BrokerAddress("127.0.0.1", port)
    sub = MqttClient("bench-sub", broker, subscriptions=["bench/x"], on_message=on)
    pub = MqttClient("bench-pub", broker)
    sub.start()
    pub.start()
    lat = []
    for i in range(n):
        ev.clear()
        t = time.perf_counter()
        pub.publish("bench/x", str(i))
        ev.wait(2.0)
        if i in got:
            lat.append((got[i] - t) * 1000)
    sub.stop()
    pub.stop()
    return statistics.median(lat)


def run_node(
    node: str, trades: int, n_houses: int, port: int, tmp: Path, gap_s: float
) -> dict[str, Any]:
    anvil = None
    if node == "anvil":
        anvil = AnvilNode()
        anvil.start()
        chain_url = anvil.url
        chain = open_chain(chain_url)
    else:
        chain_url = "embedded"
        chain = open_chain(chain_url)
    lock = threading.Lock()
    try:
        market = chain.deploy_market(grace_s=3600)
        market.set_schedule(chain.admin, Schedule("open"))
        keys = chain.houses(n_houses, market)
        names = {k.address: f"h{i + 1}" for i, k in enumerate(keys)}
        arrivals: dict[tuple[int, str], float] = {}
        accepted: dict[tuple[int, str], int] = defaultdict(int)

        def on_command(cmd: DeliveryCommand, new: bool) -> None:
            key = (cmd.trade_id, cmd.house)
            arrivals.setdefault(key, time.perf_counter())
            accepted[key] += int(new)

        clock = Clock(start=datetime.fromtimestamp(market.now(), UTC), speed=1.0)
        state = tmp / node
        state.mkdir()
        config = OracleConfig(community="bench", lead_s=86_400.0, poll_s=0.01)
        if node == "anvil":  # the oracle gets its own connection, as a separate process would
            oracle_market = MarketClient(open_chain(chain_url).backend, market.address)
            rt_lock = None
        else:  # one in-process chain: every user shares its lock
            oracle_market, rt_lock = market, lock
        rt = DeliveryRuntime(
            oracle_market,
            chain.oracle,
            names,
            "127.0.0.1",
            port,
            state,
            clock,
            config,
            power={h: ConstantPower() for h in names.values()},  # a benchmark: simulated meters
            lock=rt_lock,
            on_command=on_command,
        )
        rt.start()
        sellers, buyers = keys[: n_houses // 2], keys[n_houses // 2 :]
        start = market.now() + 3600
        offers = []
        with lock:
            for s in sellers:
                offers.append(market.post_offer(s, 10 * trades, PRICE, start, start + 900))
        mined: dict[int, tuple[float, str, str]] = {}
        for i in range(trades):
            si, bi = i % len(sellers), (i // len(sellers)) % len(buyers)
            with lock:
                tid = market.buy(buyers[bi], offers[si], 1 + i % 9)
            mined[tid] = (
                time.perf_counter(),
                names[sellers[si].address],
                names[buyers[bi].address],
            )
            time.sleep(gap_s)  # trades arrive at most 1/gap_s per second
            if (i + 1) % 50 == 0:
                print(f"  {node}: {i + 1}/{trades} trades", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all((t, s) in arrivals and (t, b) in arrivals for t, (_, s, b) in mined.items()):
                break
            time.sleep(0.05)
        rt.stop()
        lat, lost = [], 0
        for tid, (t0, s, b) in mined.items():
            if (tid, s) in arrivals and (tid, b) in arrivals:
                lat.append((max(arrivals[(tid, s)], arrivals[(tid, b)]) - t0) * 1000)
            else:
                lost += 1
        doubled = sum(1 for v in accepted.values() if v > 1)
        return {
            "node": node,
            "trades": trades,
            "p50_ms": round(pct(lat, 0.5), 1) if lat else None,
            "p99_ms": round(pct(lat, 0.99), 1) if lat else None,
            "doubled": doubled,
            "lost": lost,
        }
    finally:
        chain.backend.close()
        if anvil is not None:
            anvil.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trades", type=int, default=200, help="trades per node")
    p.add_argument("--houses", type=int, default=10, help="houses (half sell, half buy)")
    p.add_argument("--gap", type=float, default=0.02, help="wall seconds between trades")
    p.add_argument("--json", action="store_true", help="last line as JSON")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        broker = MosquittoBroker(free_port(), tmp / "mosq")
        broker.start()
        try:
            base = mqtt_baseline(broker.port)
            print(f"baseline MQTT QoS 1 publish→receive p50: {base:.2f} ms")
            results = []
            for node in ("embedded", "anvil"):
                r = run_node(node, a.trades, a.houses, broker.port, tmp, a.gap)
                r["baseline_mqtt_p50_ms"] = round(base, 2)
                r["ratio_p50_vs_baseline"] = round((r["p50_ms"] or 0) / base, 1)
                results.append(r)
                ok = r["p99_ms"] is not None and r["p99_ms"] <= 250
                print(
                    f"{node:9s} trades={r['trades']} p50={r['p50_ms']} ms p99={r['p99_ms']} ms "
                    f"doubled={r['doubled']} lost={r['lost']} "
                    f"(p50 = {r['ratio_p50_vs_baseline']}x MQTT baseline; p99 target 250 ms "
                    f"{'met' if ok else 'NOT met'})"
                )
        finally:
            broker.stop()
    if a.json:
        print(json.dumps(results[0]))
        print(json.dumps(results[-1]))


if __name__ == "__main__":
    main()
