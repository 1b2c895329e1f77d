"""Web API read load: ``gridpeer demo`` with 50 houses, hammered from a second process.

The load generator (a separate process on loopback) keeps ``--concurrency`` requests in
flight for ``--seconds`` against the read endpoints (overview, a house's latest, a day of
history, the offers list), after a baseline run against a static file on the same
server. Prints throughput, p50/p99 latency and errors, and the p99 ratio against the
baseline; target: p99 <= 50 ms at >= 200 requests/s with 0 errors.

    .venv/bin/python bench/web_api.py [--houses 50] [--seconds 10] [--json]

With ``--json`` the last line is ``{"rps": ..., "p50_ms": ..., "p99_ms": ..., "errors": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _load(base: str, paths: list[str], seconds: float, concurrency: int) -> dict[str, float]:
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
    latencies.sort()
    n = len(latencies)
    return {
        "rps": round(n / elapsed, 1),
        "p50_ms": round(1000 * latencies[n // 2], 2) if n else 0.0,
        "p99_ms": round(1000 * latencies[min(n - 1, int(n * 0.99))], 2) if n else 0.0,
        "errors": errors,
        "requests": n,
    }


def _child(base: str, paths: list[str], seconds: float, conc: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    out.put(asyncio.run(_load(base, paths, seconds, conc)))


def _in_process(base: str, paths: list[str], seconds: float, conc: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(base, paths, seconds, conc, q))
    p.start()
    result: dict[str, float] = q.get(timeout=seconds + 60)
    p.join(30)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--houses", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--json", action="store_true", help="last line: JSON result")
    a = ap.parse_args()

    cmd = [
        sys.executable,
        "-m",
        "gridpeer.cli",
        "demo",
        "--port",
        str(_free_port()),
        "--houses",
        str(a.houses),
        "--speed",
        "240",
    ]
    demo = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        base = ""
        assert demo.stdout is not None
        for line in demo.stdout:
            if m := re.search(r"Open (http://\S+?)/ ", line):
                base = m.group(1)
                break
        if not base:
            print("demo did not start", file=sys.stderr)
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
        time.sleep(2.0)  # let the first live-cache refreshes land
        print(f"demo: {a.houses} houses at {base}; {a.concurrency} concurrent, {a.seconds:g} s")
        baseline = _in_process(base, ["/static/favicon.svg"], a.seconds / 2, a.concurrency)
        print(f"baseline (static file): {baseline}")
        result = _in_process(base, paths, a.seconds, a.concurrency)
        print(f"read endpoints:         {result}")
        ratio = result["p99_ms"] / baseline["p99_ms"] if baseline["p99_ms"] else float("nan")
        ok = result["p99_ms"] <= 50 and result["rps"] >= 200 and result["errors"] == 0
        print(
            f"p99 ratio vs static baseline: {ratio:.2f}; target p99<=50 ms at >=200 rps, "
            f"0 errors: {'met' if ok else 'NOT met'}"
        )
        if a.json:
            keys = ("rps", "p50_ms", "p99_ms", "errors")
            print(json.dumps({k: result[k] for k in keys}))
        return 0
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()


if __name__ == "__main__":
    raise SystemExit(main())
