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
from typing import IO

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
    a = ap.parse_args()

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


if __name__ == "__main__":
    raise SystemExit(main())
