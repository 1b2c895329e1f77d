"""The web app alone over a PostgreSQL store of N houses, under the live benchmark's read mix.

A synthetic community day (``bench/web_api.py``'s houses and readings, one per device and
minute from 08:00 to 10:30) is written to a fresh PostgreSQL server; a writer in this
process then stores one reading per device every 10 s (a tenth of the houses each
second, as ``bench/live_scale.py`` does) while the web app serves in its own process.
The load generator (a third process) requests the mix of ``bench/live_full.py``
(overview, a house's latest, a day of its meter history at 15 min, the offers; 50
houses spread over the community) at a fixed rate, after a static file at that rate.
There is no chain: the offers come from a chain hub whose memory holds ``--orders``
synthetic orders (a tenth open for bidding), 50 of them replaced every second.

    .venv/bin/python bench/web_pg_scale.py [--houses 1000] [--rate 100] [--seconds 20] [--json]

Last line with ``--json``: ``{"houses", "static_p99_ms", "web_rps", "web_p50_ms",
"web_p99_ms", "errors", "ratio", "web_cpu"}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import web_api  # noqa: E402

DAY = datetime(2026, 3, 10, tzinfo=UTC)
FROM_H, NOW_H = 8.0, 10.5


def _clock() -> Any:
    from gridpeer.core.clock import Clock

    return Clock(start=DAY + timedelta(hours=NOW_H), speed=1.0)


def _build(url: str, n: int) -> int:
    from gridpeer.store.factory import open_store
    from gridpeer.web.live import devices_of

    store = open_store(url)
    houses = web_api._houses(n)
    rows = 0
    minutes = range(int(FROM_H * 60), int(NOW_H * 60))
    for first in minutes[::15]:
        batch = [
            web_api._reading(h, d, DAY + timedelta(minutes=m), k)
            for m in range(first, min(first + 15, minutes.stop))
            for k, h in enumerate(houses)
            for d in devices_of(h)
        ]
        rows += store.write(batch)
    store.close()
    return rows


def _ingest(url: str, n: int, stop: threading.Event) -> None:
    from gridpeer.store.factory import open_store
    from gridpeer.web.live import devices_of

    store = open_store(url)
    houses = web_api._houses(n)
    clock = _clock()
    step = 0
    while not stop.wait(1.0):
        now = clock.now()
        ts = now - timedelta(microseconds=now.microsecond)
        share = [(k, h) for k, h in enumerate(houses) if k % 10 == step % 10]
        step += 1
        store.write(web_api._reading(h, d, ts, k) for k, h in share for d in devices_of(h))
    store.close()


def _order_book_hub(clock: Any, houses: list[Any], orders: int) -> Any:
    """A chain hub without a chain: a dev key per house and ``orders`` orders with Wh
    left (a tenth still open for bidding, the rest the unsold rest of past windows, as
    the index holds them after a few slots at 1,000 houses); a thread replaces 50 of
    them and bumps the hub's version every second, as new blocks do."""
    import random

    from eth_account import Account

    from gridpeer.chain.hub import ChainHub
    from gridpeer.chain.types import Order, Side

    keys = {h.id: Account.from_key((k + 1).to_bytes(32, "big")) for k, h in enumerate(houses)}
    hub = ChainHub(market=None, clock=clock, demo_keys=keys)  # type: ignore[arg-type]
    owners = [k.address for k in keys.values()]
    now = int(clock.timestamp())
    rnd = random.Random(1)

    def order(i: int) -> Order:
        start = now - 900 * 9 + 900 * (i * 10 // max(1, orders))  # the last tenth is future
        side: Side = "offer" if i % 2 == 0 else "request"
        price = 100_000 + rnd.randrange(50_000)
        return Order(i, side, rnd.choice(owners), 100 + i % 900, price, start, start + 900, 0, 0)

    hub.orders = {i: order(i) for i in range(orders)}

    def blocks() -> None:
        while True:
            time.sleep(1.0)
            for i in rnd.sample(range(orders), min(50, orders)):
                hub.orders[i] = order(i)
            hub.version += 1

    if orders:
        threading.Thread(target=blocks, daemon=True).start()
    return hub


def serve(url: str, n: int, orders: int) -> int:
    """The web app alone over the store at ``url`` (prints ``Open URL/``)."""
    import asyncio

    from gridpeer.store.factory import open_store
    from gridpeer.web.app import create_app
    from gridpeer.web.context import WebContext
    from gridpeer.web.server import bind, run_loop, serving

    houses = web_api._houses(n)
    try:  # as services.web: the live refresh on a connection of its own
        ctx = WebContext.create(
            open_store(url), _clock(), houses, "bench", cache_store=open_store(url)
        )
    except TypeError:  # before it had one (for before/after runs of older commits)
        ctx = WebContext.create(open_store(url), _clock(), houses, "bench")
    ctx.chain = _order_book_hub(ctx.clock, houses, orders)

    async def main() -> None:
        async with serving(create_app(ctx), ctx, bind("127.0.0.1", 0)) as base:
            print(f"Open {base}/ ", flush=True)
            while True:
                await asyncio.sleep(3600)

    with contextlib.suppress(KeyboardInterrupt):
        run_loop(main())
    return 0


KINDS = ("overview", "latest", "history", "offers")


def paths(n: int, day: str, kinds: tuple[str, ...] = KINDS) -> list[str]:
    """The read mix of ``bench/live_full.py`` (only ``kinds`` of it)."""
    hs = [f"h{k}" for k in range(1, n + 1, max(1, n // 50))]
    every: dict[str, Callable[[str], str]] = {
        "overview": lambda h: "/api/overview",
        "latest": lambda h: f"/api/houses/{h}/latest",
        "history": lambda h: f"/api/houses/{h}/history?device=meter&date={day}&resolution=15min",
        "offers": lambda h: "/api/market/offers",
    }
    return [every[k](h) for h in hs for k in kinds]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--houses", type=int, default=1000)
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--orders", type=int, default=3000, help="orders in the hub's memory")
    p.add_argument("--kinds", default=",".join(KINDS), help="part of the mix to request")
    p.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve:
        return serve(a.serve, a.houses, a.orders)
    from tests.services.postgres import PgServer

    pg = PgServer()
    stop = threading.Event()
    srv = None
    try:
        url = pg.url
        t0 = time.perf_counter()
        rows = _build(url, a.houses)
        print(f"{a.houses} houses: {rows} readings in {time.perf_counter() - t0:.1f} s", flush=True)
        threading.Thread(target=_ingest, args=(url, a.houses, stop), daemon=True).start()
        cmd = [sys.executable, __file__, "--serve", url, "--houses", str(a.houses)]
        cmd += ["--orders", str(a.orders)]
        srv = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert srv.stdout is not None
        m = re.search(r"Open (http://\S+?)/ ", srv.stdout.readline())
        if not m:
            print("web app did not start", file=sys.stderr)
            return 1
        base = m.group(1)
        mix = paths(a.houses, DAY.date().isoformat(), tuple(a.kinds.split(",")))
        watch = {"web": srv.pid}
        web_api._in_process(web_api._fixed_rate, (base, mix, 3.0, a.rate), watch)  # warm-up
        static, _ = web_api._in_process(
            web_api._fixed_rate, (base, ["/static/favicon.svg"], a.seconds / 2, a.rate), watch
        )
        print(f"static {static}", flush=True)
        read, cpu = web_api._in_process(web_api._fixed_rate, (base, mix, a.seconds, a.rate), watch)
        print(f"read   {read}\n  CPU (cores) {cpu}", flush=True)
        ratio = read["p99_ms"] / static["p99_ms"] if static["p99_ms"] else None
        if a.json:
            out = {
                "houses": a.houses,
                "static_p99_ms": static["p99_ms"],
                "web_rps": read["rps"],
                "web_p50_ms": read["p50_ms"],
                "web_p99_ms": read["p99_ms"],
                "errors": read["errors"],
                "ratio": round(ratio, 2) if ratio else None,
                "web_cpu": cpu.get("web"),
            }
            print(json.dumps(out))
    finally:
        stop.set()
        if srv is not None:
            srv.send_signal(signal.SIGINT)
            try:
                srv.wait(15)
            except subprocess.TimeoutExpired:
                srv.kill()
        pg.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
