"""Telemetry ingest benchmark: messages/s from simulated devices through Mosquitto and the
home agents into SQLite at QoS 1, against the raw broker throughput at QoS 1 measured in
the same run (publisher → subscriber, nothing validated or stored).

Both phases use the same processes layout: ``--publishers`` publisher processes (one
persistent MQTT session each) and ``--agents`` receiver processes (one persistent session
each, subscribed per house). In the ingest phase the receivers are
:class:`gridpeer.hems.host.AgentHost` instances that validate, keep state and write
batches to one SQLite file.

Target: >= 10,000 msg/s sustained (10,000 houses x 3 devices every 3 s), ratio >= 0.6,
lost = 0. Anchor: ThingSpeak's free tier (the thesis's cloud) takes ~5.7 messages/min.

    python bench/telemetry_ingest.py [--messages 60000] [--rounds 2] [--json]

Each figure is the best of ``--rounds`` interleaved rounds (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

COMMUNITY = "bench"
THINGSPEAK_MSGS_PER_S = 5.7 / 60.0
START_MS = 1_780_272_000_000  # 2026-06-01T00:00:00Z


def _houses(n: int) -> list[str]:
    return [f"h{k:05d}" for k in range(n)]


def _messages(houses: Sequence[str], count: int) -> list[tuple[str, bytes]]:
    """``count`` valid readings round-robin over houses and devices, unique (house, device, ts)."""
    from gridpeer.telemetry.sensor import encode, iso_ms

    out: list[tuple[str, bytes]] = []
    k = 0
    while len(out) < count:
        house = houses[k % len(houses)]
        step = k // len(houses)
        ts = iso_ms(START_MS + step * 1000)
        dev = ("meter", "pv", "bess")[step % 3]
        body: dict[str, Any] = {"ts": ts, "v": 230.0, "i": 2.0 + step % 7, "p": 460.0}
        if dev == "meter":
            body |= {"e_wh": step, "p_grid": 120.0}
        elif dev == "bess":
            body = {"ts": ts, "v": 51.2, "i": -3.0, "p": -153.6, "soc": 0.5}
        out.append((f"gridpeer/{COMMUNITY}/{house}/{dev}/reading", encode(body)))
        k += 1
    return out


def _publisher(
    port: int, name: str, houses: list[str], count: int, go: Any, done: Any, cpu: Any, slot: int
) -> None:
    from gridpeer.core.mqtt import QOS, BrokerAddress, MqttClient

    msgs = _messages(houses, count)
    acked = 0

    def on_publish(*_: Any) -> None:
        nonlocal acked
        acked += 1

    client = MqttClient(name, BrokerAddress("127.0.0.1", port))
    client.paho.on_publish = on_publish
    client.start()
    go.wait()
    cpu0 = time.process_time()
    for topic, payload in msgs:
        client.paho.publish(topic, payload, qos=QOS)
    while acked < len(msgs):
        time.sleep(0.005)
    cpu[slot] = time.process_time() - cpu0
    client.stop()
    done.release()


def _raw_receiver(
    port: int,
    name: str,
    houses: list[str],
    counter: Any,
    ready: Any,
    stop: Any,
    cpu: Any,
    slot: int,
) -> None:
    import threading

    from gridpeer.core.mqtt import QOS, BrokerAddress, MqttClient
    from gridpeer.telemetry.topics import house_filter

    n = 0
    subscribed = threading.Event()

    def on_message(*_: Any) -> None:
        nonlocal n
        n += 1
        if n & 127 == 0:
            counter.value = n

    client = MqttClient(name, BrokerAddress("127.0.0.1", port))
    client.paho.on_message = on_message
    client.paho.on_subscribe = lambda *_: subscribed.set()
    client.start()
    client.paho.subscribe([(house_filter(COMMUNITY, h), QOS) for h in houses])
    subscribed.wait(30)
    ready.release()
    cpu0 = time.process_time()
    while not stop.wait(0.01):
        counter.value = n
    counter.value = n
    cpu[slot] = time.process_time() - cpu0
    client.stop()


def _agent_receiver(
    port: int,
    name: str,
    houses: list[str],
    db: str,
    counter: Any,
    ready: Any,
    stop: Any,
    cpu: Any,
    slot: int,
) -> None:
    from gridpeer.core.mqtt import BrokerAddress
    from gridpeer.hems.host import AgentHost
    from gridpeer.store.factory import open_store

    store = open_store(f"sqlite:///{db}")
    host = AgentHost(
        COMMUNITY,
        houses,
        BrokerAddress("127.0.0.1", port),
        store,
        client_id=name,
        batch_size=2000,
        flush_interval_s=0.1,
    )
    host.start(timeout_s=30)
    ready.release()
    cpu0 = time.process_time()
    while not stop.wait(0.01):
        counter.value = host.stored
    host.stop()
    counter.value = host.stored
    cpu[slot] = time.process_time() - cpu0
    store.close()


def _phase(
    ctx: Any, port: int, tag: str, houses: list[str], args: argparse.Namespace, db: str | None
) -> tuple[float, int]:
    """Run one phase; returns (messages/s, messages received or stored)."""
    n_recv, n_pub = args.agents, args.publishers
    ready, done = ctx.Semaphore(0), ctx.Semaphore(0)
    go, stop = ctx.Event(), ctx.Event()
    counters: list[Synchronized[int]] = [ctx.Value("q", 0, lock=False) for _ in range(n_recv)]
    cpu = ctx.Array("d", n_recv + n_pub, lock=False)  # CPU seconds per process while measured
    procs = []
    a: tuple[Any, ...]
    for r in range(n_recv):
        share = houses[r::n_recv]
        if db is None:
            a = (port, f"{tag}-recv{r}", share, counters[r], ready, stop, cpu, r)
            procs.append(ctx.Process(target=_raw_receiver, args=a))
        else:
            a = (port, f"{tag}-agent{r}", share, db, counters[r], ready, stop, cpu, r)
            procs.append(ctx.Process(target=_agent_receiver, args=a))
    per_pub = args.messages // n_pub
    for p in range(n_pub):
        share = houses[p::n_pub]
        a = (port, f"{tag}-pub{p}", share, per_pub, go, done, cpu, n_recv + p)
        procs.append(ctx.Process(target=_publisher, args=a))
    for proc in procs:
        proc.start()
    for _ in range(n_recv):
        if not ready.acquire(timeout=60):
            raise RuntimeError(f"{tag}: receivers did not subscribe")
    time.sleep(1.0)  # let publishers build their payloads and connect
    total = per_pub * n_pub
    t0 = time.perf_counter()
    go.set()
    last, last_change, got = 0, t0, 0
    while True:
        got = sum(c.value for c in counters)
        now = time.perf_counter()
        if got >= total:
            break
        if got != last:
            last, last_change = got, now
        elif now - last_change > args.stall_s:
            break  # nothing arrives any more: lost messages
        if args.progress:
            print(f"\r  {tag}: {got:>8}/{total}", end="", file=sys.stderr, flush=True)
        time.sleep(0.01)
    elapsed = (now if got >= total else last_change) - t0
    stop.set()
    for proc in procs:
        proc.join(60)
    if args.progress:
        print(file=sys.stderr)
    got = sum(c.value for c in counters)
    recv_cpu, pub_cpu = sum(cpu[:n_recv]), sum(cpu[n_recv:])
    print(
        f"  {tag}: CPU per message: receivers {recv_cpu / max(got, 1) * 1e6:.0f} us, "
        f"publishers {pub_cpu / max(got, 1) * 1e6:.0f} us",
        flush=True,
    )
    return got / elapsed, got


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=60_000, help="messages per phase")
    ap.add_argument("--houses", type=int, default=300, help="houses (3 devices each)")
    ap.add_argument("--publishers", type=int, default=2, help="publisher processes")
    ap.add_argument("--agents", type=int, default=2, help="receiver / agent-host processes")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved raw/ingest rounds")
    ap.add_argument("--stall-s", type=float, default=15.0, help="give up after no progress (s)")
    ap.add_argument("--json", action="store_true", help="last line: JSON result")
    args = ap.parse_args(argv)
    args.progress = sys.stderr.isatty()

    from gridpeer.store.factory import open_store
    from gridpeer.telemetry.broker import MosquittoBroker

    ctx = mp.get_context("spawn")
    houses = _houses(args.houses)
    raw_rates, ingest_rates, lost = [], [], 0
    sent = args.messages // args.publishers * args.publishers
    with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with MosquittoBroker(port, Path(tmp) / "mosquitto"):
            for r in range(args.rounds):  # interleaved, so both see the same machine load
                raw_rate, raw_got = _phase(ctx, port, f"raw{r}", houses, args, None)
                db = str(Path(tmp) / f"ingest{r}.db")
                open_store(f"sqlite:///{db}").close()  # create the schema before the race
                ingest_rate, _ = _phase(ctx, port, f"ingest{r}", houses, args, db)
                store = open_store(f"sqlite:///{db}")
                stored = store.count()
                store.close()
                lost += sent - stored
                raw_rates.append(raw_rate)
                ingest_rates.append(ingest_rate)
                print(
                    f"round {r + 1}: raw {raw_rate:,.0f} msg/s (received {raw_got}), "
                    f"ingest {ingest_rate:,.0f} msg/s (stored {stored} of {sent})",
                    flush=True,
                )
    raw_rate, ingest_rate = max(raw_rates), max(ingest_rates)
    result = {
        "ingest_msgs_per_s": round(ingest_rate, 1),
        "broker_raw_msgs_per_s": round(raw_rate, 1),
        "ratio": round(ingest_rate / raw_rate, 3) if raw_rate else 0.0,
        "lost": lost,
    }
    print(f"messages per phase:        {sent} ({args.houses} houses, QoS 1, Mosquitto)")
    print(f"raw broker (pub -> sub):   {raw_rate:>10,.0f} msg/s   (best of {args.rounds})")
    print(f"ingest (-> agents -> SQLite): {ingest_rate:>7,.0f} msg/s   (best of {args.rounds})")
    print(f"ratio ingest / raw:        {result['ratio']:.2f}   (target >= 0.6)")
    print(f"target 10,000 msg/s:       {'met' if ingest_rate >= 10_000 else 'NOT met'}")
    print(f"vs ThingSpeak free tier:   {ingest_rate / THINGSPEAK_MSGS_PER_S:,.0f}x")
    print(f"lost:                      {result['lost']}")
    if args.json:
        print(json.dumps(result))
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
