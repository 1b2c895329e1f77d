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


class _AckLink:
    """The oracle's broker link in the confirmation run: every publish acknowledged (the
    MQTT path is measured by run_node; here only the chain's part)."""

    def publish(self, topic: str, payload: Any, retain: bool = False, timeout: float = 5) -> bool:
        return True

    def publish_many(self, messages: Any, timeout: float = 5.0) -> list[bool]:
        return [True] * len(messages)


class _FixedClock(Clock):
    def __init__(self, at: datetime) -> None:
        super().__init__(start=at)
        self.at = at

    def now(self) -> datetime:
        return self.at


def run_confirm(trades: int, batched: bool, tmp: Path, batch_max: int = 100) -> dict[str, Any]:
    """Confirmation latency on anvil: ``trades`` trades of one window (one coordinator
    batch), both meters of every trade reporting at once at the window's end; latency =
    the receipt of the trade's confirmation − the moment the results were handed to the
    oracle. ``batched``: confirmBatch (``batch_max`` per tx); else one confirmDelivery per
    trade (the same oracle on a chain view without confirm_batch)."""
    from gridpeer.chain import Match, OrderTerms, batch_trade_id
    from gridpeer.chain.open import Chain
    from gridpeer.oracle.chain_adapter import MarketChainView
    from gridpeer.oracle.ports import BatchResult
    from gridpeer.oracle.service import Oracle
    from gridpeer.oracle.settings import OracleSettings
    from gridpeer.oracle.state import OracleState, TradeState
    from gridpeer.telemetry.delivery import DeliveryResult, Direction

    with AnvilNode() as node:
        chain = Chain(open_chain(node.url).backend)
        m = chain.deploy_market(grace_s=3600)
        m.set_schedule(chain.admin, Schedule("open"))
        s, b = chain.houses(2, m)
        start = m.now() + 30
        end = start + 60
        m.deposit(b, 10**18)
        total = trades * 10
        orders = [
            m.sign_order(s, OrderTerms(s.address, True, total, PRICE, start, end, 1, start)),
            m.sign_order(b, OrderTerms(b.address, False, total, PRICE, start, end, 1, start)),
        ]
        batch = m.settle_batch(chain.coordinator, orders, [Match(0, 1, 10, PRICE)] * trades)
        ids = [batch_trade_id(batch, i) for i in range(trades)]
        done: dict[int, float] = {}

        class View(MarketChainView):
            def confirm_delivery(self, trade_id: int, delivered_wh: int) -> str:
                tx = super().confirm_delivery(trade_id, delivered_wh)
                done[trade_id] = time.perf_counter()
                return tx

            def confirm_batch(self, deliveries: Any, on_signed: Any) -> BatchResult:
                r = super().confirm_batch(deliveries, on_signed)
                t = time.perf_counter()
                done.update((tid, t) for tid in r.confirmed)
                return r

        class SingleView(View):
            confirm_batch = property()  # type: ignore[assignment]  # hasattr() is False

        view = (View if batched else SingleView)(
            m, chain.oracle, {s.address: "h1", b.address: "h2"}
        )
        cfg = OracleSettings(
            community="bench", lead_s=600.0, result_grace_s=300.0, confirm_batch_max=batch_max
        )
        clock = _FixedClock(datetime.fromtimestamp(start - 5, UTC))
        state = OracleState(f"sqlite:///{tmp}/confirm-{'batch' if batched else 'single'}.db")
        o = Oracle(view, state, "127.0.0.1", 1, clock, cfg)
        o.link = _AckLink()  # type: ignore[assignment]
        o.tick()  # follow + command
        m.set_time(end + 1)
        clock.at = datetime.fromtimestamp(end + 1, UTC)
        for tid in ids:
            for house, d in (("h1", Direction.OUT), ("h2", Direction.IN)):
                o._results.put(
                    DeliveryResult(
                        trade_id=tid,
                        house=house,
                        direction=d,
                        measured_wh=10,
                        target_wh=10,
                        closed_at=None,
                        opened_at=clock.at,
                        reason="target",
                    )
                )
        t0 = time.perf_counter()
        txs_before = m.backend.block_number()
        deadline = time.monotonic() + 120
        while len(done) < trades and time.monotonic() < deadline:
            o.tick()
        txs = m.backend.block_number() - txs_before  # anvil automine: one block per tx
        lat = [(done[t] - t0) * 1000 for t in ids if t in done]
        confirmed = sum(1 for r in state.trades() if r.state is TradeState.CONFIRMED)
        state.close()
        chain.backend.close()
    return {
        "path": "confirmBatch" if batched else "confirmDelivery",
        "trades": trades,
        "confirmed": confirmed,
        "transactions": txs,
        "trades_per_tx": round(confirmed / txs, 1) if txs else None,
        "p50_ms": round(pct(lat, 0.5), 1) if lat else None,
        "p99_ms": round(pct(lat, 0.99), 1) if lat else None,
    }


def confirm_report(trades: int, tmp: Path) -> dict[str, Any]:
    """Both confirmation paths in the same run, and their ratio."""
    single = run_confirm(trades, False, tmp)
    batched = run_confirm(trades, True, tmp)
    ratio = (single["p99_ms"] or 0) / (batched["p99_ms"] or 1)
    for r in (single, batched):
        print(
            f"confirm {r['path']:15s} trades={r['trades']} confirmed={r['confirmed']} "
            f"txs={r['transactions']} trades/tx={r['trades_per_tx']} "
            f"p50={r['p50_ms']} ms p99={r['p99_ms']} ms"
        )
    print(f"confirm p99 per-trade / batched = {ratio:.1f}x")
    return {"confirm_single": single, "confirm_batched": batched, "p99_ratio": round(ratio, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trades", type=int, default=200, help="trades per node")
    p.add_argument("--houses", type=int, default=10, help="houses (half sell, half buy)")
    p.add_argument("--gap", type=float, default=0.02, help="wall seconds between trades")
    p.add_argument("--json", action="store_true", help="last line as JSON")
    p.add_argument(
        "--confirm-trades", type=int, default=200, help="trades per window, confirmation run"
    )
    p.add_argument("--confirm-only", action="store_true", help="only the confirmation run (anvil)")
    a = p.parse_args()
    if a.confirm_only:
        with tempfile.TemporaryDirectory() as d:
            rep = confirm_report(a.confirm_trades, Path(d))
        if a.json:
            print(json.dumps(rep))
        return
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
        confirm = confirm_report(a.confirm_trades, tmp)
    if a.json:
        print(json.dumps(results[0]))
        print(json.dumps(confirm))
        print(json.dumps(results[-1]))


if __name__ == "__main__":
    main()
