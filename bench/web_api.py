"""Web API read load: ``gridpeer demo`` with 50 houses, loaded from a second process.

The load generator (its own process on loopback) requests the read endpoints (overview,
a house's latest, a day of history, the offers list) after 3 s of warm-up (connections
opened, caches filled, not counted) in three phases:

1. baseline: a static file from the same server, at the target rate;
2. target: the read endpoints at a fixed arrival rate (``--rate``, default 250 req/s) for
   ``--seconds``. Requests are sent on schedule whether or not earlier ones have
   answered (open loop), and latency counts from the scheduled send time, so a stall
   shows up in full instead of silently lowering the rate ("coordinated omission");
3. saturation: ``--concurrency`` requests always in flight, as fast as the server
   answers: the most it serves, and its latency when nothing is left over.

Target (phase 2): p99 <= 50 ms at >= 200 requests/s, 0 errors. Also printed: the p99
ratio against the baseline, and the CPU each process used (the demo's simulation, its
web process, the load generator) on this machine.

    .venv/bin/python bench/web_api.py [--houses 50] [--rate 250] [--seconds 10] [--json]

With ``--json`` the last line is ``{"rps": ..., "p50_ms": ..., "p99_ms": ..., "errors": ...}``
for phase 2, plus ``max_rps``/``max_p99_ms`` from phase 3.

Scale (``--sizes 50,1000``): instead of the demo, a SQLite store per size filled with a
synthetic community day (houses of three kinds, a reading per device every minute from
local midnight to 10:30, then one every 10 s while the benchmark runs, written by a
thread of the web process), served by the web app alone in its own process. For each
size it prints the live-refresh cost in this process — the old path (one ``history``
query per house and device), a full ``history_all`` recompute, and the incremental
refresh the server runs now: ms per refresh and store queries per refresh — then the
three load phases against the server with the old refresh and with the new one, each
with its static-file p99 and the ratio web p99 / static p99. ``--demo`` also runs the
50-house demo measurement above first, in the same run.

    .venv/bin/python bench/web_api.py --sizes 50,1000 [--seconds 6] [--rate 100] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
Result = dict[str, float]


def _summary(latencies: list[float], errors: int, elapsed: float) -> Result:
    latencies.sort()
    n = len(latencies)
    return {
        "rps": round(n / elapsed, 1),
        "p50_ms": round(1000 * latencies[n // 2], 2) if n else 0.0,
        "p99_ms": round(1000 * latencies[min(n - 1, int(n * 0.99))], 2) if n else 0.0,
        "max_ms": round(1000 * latencies[-1], 2) if n else 0.0,
        "errors": errors,
        "requests": n,
    }


async def _fixed_rate(base: str, paths: list[str], seconds: float, rate: float) -> Result:
    """Open loop: request k is due at ``t0 + k / rate``; latency counts from then."""
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10.0) as client:
        await client.get(paths[0])  # connect before the clock starts
        t0 = time.perf_counter() + 0.05

        async def one(k: int) -> None:
            nonlocal errors
            due = t0 + k / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                r = await client.get(paths[k % len(paths)])
                if r.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - due)

        await asyncio.gather(*(one(k) for k in range(int(seconds * rate))))
        elapsed = time.perf_counter() - t0
    return _summary(latencies, errors, elapsed)


async def _saturate(base: str, paths: list[str], seconds: float, concurrency: int) -> Result:
    """Closed loop: ``concurrency`` requests always in flight."""
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10.0) as client:

        async def worker(k: int) -> None:
            nonlocal errors
            i = k
            while time.perf_counter() < deadline:
                path = paths[i % len(paths)]
                i += concurrency
                t0 = time.perf_counter()
                try:
                    r = await client.get(path)
                    if r.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - t0)

        t_start = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - t_start
    return _summary(latencies, errors, elapsed)


def _child(fn: Callable[..., Awaitable[Result]], args: tuple[object, ...], out: mp.Queue) -> None:  # type: ignore[type-arg]
    out.put(asyncio.run(fn(*args)))


def _in_process(
    fn: Callable[..., Awaitable[Result]], args: tuple[object, ...], watch: dict[str, int]
) -> tuple[Result, dict[str, float]]:
    """Run the load ``fn(*args)`` in a fresh process; returns its result and the CPU share
    (1.0 = one core) each watched process and the load generator used meanwhile."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, args, q))
    p.start()
    procs = {name: psutil.Process(pid) for name, pid in watch.items()}
    procs["load generator"] = psutil.Process(p.pid)
    before = {n: _cpu(pr) for n, pr in procs.items()}
    t0 = time.perf_counter()
    result: Result = q.get(timeout=300)
    wall = time.perf_counter() - t0
    cpu = {n: round((_cpu(pr) - before[n]) / wall, 2) for n, pr in procs.items()}
    p.join(30)
    return result, cpu


def _cpu(p: psutil.Process) -> float:
    try:
        t = p.cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--houses", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=250.0, help="phase 2 arrivals, req/s")
    ap.add_argument("--concurrency", type=int, default=8, help="phase 3 requests in flight")
    ap.add_argument("--chain", default="embedded", help="demo --chain (embedded or a URL)")
    ap.add_argument(
        "--start-hour",
        type=float,
        default=14.5,
        help="demo model start, UTC h (14.5 = 10:30 in Valparaíso: bidding opens, agents trade)",
    )
    ap.add_argument("--json", action="store_true", help="last line: JSON result")
    ap.add_argument("--sizes", default="", help="scale mode: house counts, e.g. 50,1000")
    ap.add_argument("--demo", action="store_true", help="scale mode: also the demo run first")
    ap.add_argument("--serve-store", default="", help=argparse.SUPPRESS)  # internal
    ap.add_argument("--live", default="new", help=argparse.SUPPRESS)  # internal: old|new
    a = ap.parse_args()
    if a.serve_store:
        return _serve_store(Path(a.serve_store), a.houses, a.live)
    if a.sizes:
        return _scale(a)

    cmd = [sys.executable, "-m", "gridpeer.cli", "demo", "--port", "0"]  # it prints its URL
    cmd += ["--houses", str(a.houses), "--speed", "240", "--chain", a.chain]
    cmd += ["--start-hour", str(a.start_hour)]
    with tempfile.TemporaryFile("w+") as log:  # the demo's log, shown if it fails to start
        return _run(a, cmd, log)


def _run(a: argparse.Namespace, cmd: list[str], log: IO[str]) -> int:
    demo = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        base = ""
        assert demo.stdout is not None
        for line in demo.stdout:
            if m := re.search(r"Open (http://\S+?)/ ", line):
                base = m.group(1)
                break
        if not base:
            log.seek(0)
            print("demo did not start:\n" + log.read()[-3000:], file=sys.stderr)
            return 1
        import httpx

        day = httpx.get(base + "/api/overview", timeout=10).json()["now"][:10]
        houses = [f"h{k}" for k in range(1, a.houses + 1)]
        paths = [
            p
            for h in houses
            for p in (
                "/api/overview",
                f"/api/houses/{h}/latest",
                f"/api/houses/{h}/history?device=meter&date={day}&resolution=15min",
                "/api/market/offers",
            )
        ]
        watch = {"demo (simulation)": demo.pid}
        for child in psutil.Process(demo.pid).children():
            if "spawn" in " ".join(child.cmdline()):
                watch["demo (web)"] = child.pid
        time.sleep(2.0)  # let the first live-cache refreshes land
        print(f"demo: {a.houses} houses at {base}; processes {watch}")

        def show(name: str, res: Result, cpu: dict[str, float]) -> None:
            print(f"{name:<32} {res}")
            print(f"{'':<32} CPU (cores): {cpu}")

        _in_process(_fixed_rate, (base, paths, 3.0, a.rate), watch)  # warm-up, not counted
        baseline, cpu = _in_process(
            _fixed_rate, (base, ["/static/favicon.svg"], a.seconds / 2, a.rate), watch
        )
        show(f"1 baseline, static, {a.rate:g}/s:", baseline, cpu)
        result, cpu = _in_process(_fixed_rate, (base, paths, a.seconds, a.rate), watch)
        show(f"2 read endpoints, {a.rate:g}/s:", result, cpu)
        peak, cpu = _in_process(_saturate, (base, paths, a.seconds, a.concurrency), watch)
        show(f"3 saturation, {a.concurrency} in flight:", peak, cpu)
        ratio = result["p99_ms"] / baseline["p99_ms"] if baseline["p99_ms"] else float("nan")
        ok = result["p99_ms"] <= 50 and result["rps"] >= 200 and result["errors"] == 0
        print(
            f"p99 ratio vs static baseline: {ratio:.2f}; target p99<=50 ms at >=200 rps, "
            f"0 errors: {'met' if ok else 'NOT met'}"
        )
        if a.json:
            out = {k: result[k] for k in ("rps", "p50_ms", "p99_ms", "errors")}
            out |= {"max_rps": peak["rps"], "max_p99_ms": peak["p99_ms"]}
            print(json.dumps(out))
        return 0
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()


# --- scale mode: a synthetic store of N houses, the web app alone --------------------------

_DAY_START_H = 0.0
_NOW_H = 10.5  # 10:30 UTC: 42 quarter hours of the day stored


def _houses(n: int) -> list[Any]:
    from gridpeer.web.models import HouseInfo, HouseKind

    kinds = (HouseKind.PV_BESS, HouseKind.PV, HouseKind.CONSUMER)
    return [
        HouseInfo(id=f"h{k}", name=f"House {k}", kind=kinds[k % 3], pv_kwp=4.0, bess_kwh=10.0)
        for k in range(1, n + 1)
    ]


def _reading(house: Any, device: str, ts: Any, k: int) -> Any:
    import math

    from gridpeer.store.base import Sample

    hour = ts.hour + ts.minute / 60
    sun = max(0.0, math.sin(math.pi * (hour - 6) / 12))
    load = 300.0 + 50.0 * (k % 7) + 200.0 * math.sin(hour / 3 + k)
    if device == "pv":
        return Sample(house.id, "pv", ts, 350.0, 10.0 * sun, 3500.0 * sun)
    if device == "bess":
        return Sample(house.id, "bess", ts, 51.2, 1.0, 200.0 * math.cos(hour), soc=0.5)
    pv = 3500.0 * sun if house.kind != "consumer" else 0.0
    return Sample(house.id, "meter", ts, 230.0, load / 230, load, p_grid=load - pv)


def _build_store(path: Path, n: int) -> tuple[int, float]:
    """A day of readings (one per device and minute) for ``n`` houses; (rows, seconds)."""
    from datetime import UTC, datetime, timedelta

    from gridpeer.store.factory import open_store
    from gridpeer.web.live import devices_of

    store = open_store(f"sqlite:///{path}")
    day = datetime(2026, 3, 10, tzinfo=UTC)
    houses = _houses(n)
    t0, rows = time.perf_counter(), 0
    minutes = range(int(_DAY_START_H * 60), int(_NOW_H * 60))
    for first in minutes[::15]:  # a quarter hour per batch
        batch = [
            _reading(h, d, day + timedelta(minutes=m), k)
            for m in range(first, min(first + 15, minutes.stop))
            for k, h in enumerate(houses)
            for d in devices_of(h)
        ]
        rows += store.write(batch)
    store.close()
    return rows, time.perf_counter() - t0


def _clock_at_end() -> Any:
    from datetime import UTC, datetime, timedelta

    from gridpeer.core.clock import Clock

    return Clock(start=datetime(2026, 3, 10, tzinfo=UTC) + timedelta(hours=_NOW_H), speed=1.0)


def _refresh_cost(path: Path, n: int) -> dict[str, dict[str, float]]:
    """ms and store queries per live refresh: old path, full history_all, incremental."""
    from gridpeer.store.factory import open_store
    from gridpeer.web.live import LiveCache

    store = open_store(f"sqlite:///{path}")
    cache = LiveCache(store, _clock_at_end(), _houses(n), "bench")
    out: dict[str, dict[str, float]] = {}

    def measure(name: str, fn: Callable[[], object], reps: int) -> None:
        times, q0 = [], cache.queries
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append(1000 * (time.perf_counter() - t0))
        times.sort()
        out[name] = {
            "ms_per_refresh": round(times[len(times) // 2], 2),
            "queries_per_refresh": (cache.queries - q0) / reps,
        }

    slow = 3 if n <= 200 else 1  # seconds per refresh at 1,000 houses
    measure("old: history per house+device", cache.compute_per_house, slow)

    def full() -> None:
        cache.today.checked_to = None  # forces the tracker's full recompute
        cache.compute()

    measure("full: one history_all from midnight", full, slow)
    measure("new: incremental (open buckets only)", cache.compute, 10)
    store.close()
    return out


def _serve_store(path: Path, n: int, live: str) -> int:
    """The web app alone over the store at ``path`` (prints ``Open URL/``); a thread writes
    one reading per device every 10 s; ``live=old`` refreshes the old way."""
    import threading
    from datetime import timedelta

    from gridpeer.store.factory import open_store
    from gridpeer.web.app import create_app
    from gridpeer.web.context import WebContext
    from gridpeer.web.live import devices_of
    from gridpeer.web.server import bind, run_loop, serving

    store = open_store(f"sqlite:///{path}")
    clock = _clock_at_end()
    houses = _houses(n)
    ctx = WebContext.create(store, clock, houses, "bench")
    if live == "old":
        ctx.cache.compute = ctx.cache.compute_per_house  # type: ignore[method-assign]
    stop = threading.Event()

    def ingest() -> None:
        step = 0
        while not stop.wait(1.0):
            now = clock.now()
            share = [h for k, h in enumerate(houses) if k % 10 == step % 10]
            step += 1
            ts = now - timedelta(microseconds=now.microsecond)
            store.write(_reading(h, d, ts, k) for k, h in enumerate(share) for d in devices_of(h))

    async def main() -> None:
        sock = bind("127.0.0.1", 0)
        async with serving(create_app(ctx), ctx, sock) as base:
            print(f"Open {base}/ ", flush=True)
            while True:
                await asyncio.sleep(3600)

    threading.Thread(target=ingest, daemon=True).start()
    try:
        run_loop(main())
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
    return 0


def _load_phases(
    a: argparse.Namespace, base: str, paths: list[str], watch: dict[str, int]
) -> dict[str, Result]:
    def show(name: str, res: Result, cpu: dict[str, float]) -> None:
        print(f"  {name:<30} {res}")
        print(f"  {'':<30} CPU (cores): {cpu}")

    _in_process(_fixed_rate, (base, paths, 2.0, a.rate), watch)  # warm-up, not counted
    static, cpu = _in_process(
        _fixed_rate, (base, ["/static/favicon.svg"], a.seconds / 2, a.rate), watch
    )
    show(f"1 static file, {a.rate:g}/s:", static, cpu)
    web, cpu = _in_process(_fixed_rate, (base, paths, a.seconds, a.rate), watch)
    show(f"2 read endpoints, {a.rate:g}/s:", web, cpu)
    peak, cpu = _in_process(_saturate, (base, paths, a.seconds / 2, a.concurrency), watch)
    show(f"3 saturation, {a.concurrency} in flight:", peak, cpu)
    ratio = web["p99_ms"] / static["p99_ms"] if static["p99_ms"] else float("nan")
    print(f"  web p99 / static p99 = {ratio:.2f}")
    return {"static": static, "web": web, "peak": peak}


def _store_paths(n: int, day: str) -> list[str]:
    sample = [f"h{k}" for k in range(1, n + 1, max(1, n // 50))]  # 50 houses spread out
    return [
        p
        for h in sample
        for p in (
            "/api/overview",
            "/api/community",
            f"/api/houses/{h}/latest",
            f"/api/houses/{h}/history?device=meter&date={day}&resolution=15min",
            f"/api/houses/live?q={h[1:]}&limit=20",
        )
    ]


def _scale(a: argparse.Namespace) -> int:
    sizes = [int(x) for x in a.sizes.split(",") if x]
    summary: dict[str, Any] = {}
    if a.demo:
        print("== demo, 50 houses (the measurement above) ==", flush=True)
        cmd = [sys.executable, "-m", "gridpeer.cli", "demo", "--port", "0", "--houses", "50"]
        cmd += ["--speed", "240", "--chain", a.chain, "--start-hour", str(a.start_hour)]
        with tempfile.TemporaryFile("w+") as log:
            _run(a, cmd, log)
    with tempfile.TemporaryDirectory(prefix="gridpeer-webscale-") as tmp:
        for n in sizes:
            path = Path(tmp) / f"store-{n}.db"
            rows, secs = _build_store(path, n)
            print(f"== {n} houses: {rows} readings stored in {secs:.1f} s ==", flush=True)
            cost = _refresh_cost(path, n)
            for name, c in cost.items():
                print(f"  live refresh, {name:<38} {c}")
            entry: dict[str, Any] = {"refresh": cost}
            for live in ("old", "new"):
                cmd = [sys.executable, __file__, "--serve-store", str(path), "--houses", str(n)]
                srv = subprocess.Popen(
                    [*cmd, "--live", live], cwd=ROOT, stdout=subprocess.PIPE, text=True
                )
                try:
                    assert srv.stdout is not None
                    line = srv.stdout.readline()
                    m = re.search(r"Open (http://\S+?)/ ", line)
                    if not m:
                        print(f"web app did not start: {line!r}", file=sys.stderr)
                        return 1
                    base = m.group(1)
                    time.sleep(2.0)
                    print(f" web app alone, {n} houses, {live} live refresh:", flush=True)
                    phases = _load_phases(a, base, _store_paths(n, "2026-03-10"), {"web": srv.pid})
                    entry[live] = {
                        "web_p99_ms": phases["web"]["p99_ms"],
                        "web_rps": phases["web"]["rps"],
                        "errors": phases["web"]["errors"],
                        "static_p99_ms": phases["static"]["p99_ms"],
                        "ratio": round(phases["web"]["p99_ms"] / phases["static"]["p99_ms"], 2)
                        if phases["static"]["p99_ms"]
                        else None,
                        "max_rps": phases["peak"]["rps"],
                    }
                finally:
                    srv.send_signal(signal.SIGINT)
                    try:
                        srv.wait(15)
                    except subprocess.TimeoutExpired:
                        srv.kill()
            summary[str(n)] = entry
    if a.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
