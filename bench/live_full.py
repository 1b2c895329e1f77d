"""The full mode of ``bench/live_scale.py`` (see its docstring): the demo's services with
``--houses`` houses on PostgreSQL, Mosquitto and anvil, trading and delivering, the web
under a fixed read load from a second process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]

START_H = 16.5
"""UTC: 12:30 in the demo's time zone (UTC-4): the last half hour of the first bidding
session, then the 13:00-14:00 delivery window."""
READING_EVERY_WALL_S = 10.0
BENCH_THREADS = 2
"""Threads this bench adds to the demo's process (the sampler and the load driver),
left out of ``threads_max``."""


@dataclass
class Run:
    """What the probe collects."""

    start: Any = None
    monitoring: Any = None
    oracle_ms: list[float] = field(default_factory=list)
    threads_max: int = 0
    rss_mb_max: float = 0.0
    web: dict[str, Any] = field(default_factory=dict)
    trades: int = 0
    settled: int = 0
    disputed: int = 0
    ready_wall: float = 0.0
    web_thread: threading.Thread | None = None


def _p99(xs: list[float]) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * 0.99))], 1)


def _p50(xs: list[float]) -> float | None:
    return round(sorted(xs)[len(xs) // 2], 1) if xs else None


def _tree(pids: list[int]) -> list[psutil.Process]:
    out: list[psutil.Process] = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            out += [p, *p.children(recursive=True)]
    return out


def _renice(p: psutil.Process, nice: int) -> None:
    """Every thread of ``p`` at ``nice`` (Linux keeps a nice value per thread; new threads
    take their creator's)."""
    for t in p.threads():
        with contextlib.suppress(OSError):
            if os.getpriority(os.PRIO_PROCESS, t.id) != nice:
                os.setpriority(os.PRIO_PROCESS, t.id, nice)


def _sample(
    run: Run, pids: Callable[[], list[int]], stop: threading.Event, houses_nice: int = 0
) -> None:
    """Each second: the most threads of any process, the memory of all together; and the
    priorities: the demo's own process (the houses) at ``houses_nice``, everything else
    (the web and oracle processes, the load driver, Mosquitto, anvil, PostgreSQL) at 0."""
    me = os.getpid()
    while not stop.wait(1.0):
        threads, rss = 0, 0.0
        for p in _tree(pids()):
            with contextlib.suppress(psutil.Error):
                threads = max(threads, p.num_threads())
                rss += p.memory_info().rss / 2**20
                if houses_nice:
                    _renice(p, houses_nice if p.pid == me else 0)
        run.threads_max = max(run.threads_max, threads)
        run.rss_mb_max = max(run.rss_mb_max, rss)


def _web_load(run: Run, base: str, day: str, houses: int, args: argparse.Namespace) -> None:
    """Static file, then the read endpoints, each at ``args.rate`` from another process."""
    import web_api

    hs = [f"h{k}" for k in range(1, houses + 1, max(1, houses // 50))]
    paths = [
        p
        for h in hs
        for p in (
            "/api/overview",
            f"/api/houses/{h}/latest",
            f"/api/houses/{h}/history?device=meter&date={day}&resolution=15min",
            "/api/market/offers",
        )
    ]
    warm, _ = web_api._in_process(web_api._fixed_rate, (base, paths, 3.0, args.rate), {})
    print(f"web warm-up {warm}", flush=True)
    static, _ = web_api._in_process(
        web_api._fixed_rate, (base, ["/static/favicon.svg"], args.web_seconds / 2, args.rate), {}
    )
    print(f"web static {static}", flush=True)
    read, _ = web_api._in_process(
        web_api._fixed_rate, (base, paths, args.web_seconds, args.rate), {}
    )
    run.web = {"static": static, "read": read}
    print(f"web read   {read}", flush=True)


def _probe(run: Run, args: argparse.Namespace, pg_pids: Callable[[], list[int]]) -> Any:
    from gridpeer.runtime.composition import Parts

    @contextlib.asynccontextmanager
    async def service(parts: Parts) -> AsyncIterator[None]:
        run.start, run.monitoring, run.ready_wall = parts.clock.start, parts.monitoring, time.time()
        rt = parts.delivery
        assert rt is not None and parts.hub is not None and parts.url is not None
        stop = threading.Event()
        sampler = threading.Thread(
            target=_sample,
            args=(run, lambda: [*pg_pids(), _self_pid()], stop, args.houses_nice),
            daemon=True,
        )
        sampler.start()
        web = threading.Thread(
            target=_web_load,
            args=(run, parts.url, parts.clock.now().date().isoformat(), len(parts.houses), args),
            daemon=True,
        )
        web.start()
        run.web_thread = web
        hub = parts.hub

        async def watch() -> None:
            last = 0.0
            while not (hub.all_done(parts.clock.timestamp()) and not web.is_alive()):
                await asyncio.sleep(1.0)
                if time.time() - last > 20:
                    last = time.time()
                    trades = list(hub.trades.values())
                    done = sum(1 for t in trades if t.status == "settled")
                    print(
                        f"model {parts.clock.now():%H:%M}: {len(trades)} trades, {done} settled,"
                        f" threads {run.threads_max}, "
                        f"{run.rss_mb_max:.0f} MB",
                        flush=True,
                    )
            parts.stop.set()

        task = asyncio.create_task(watch())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            run.oracle_ms = rt.oracle_passes_ms()  # the oracle's own process, on anvil
            trades = list(hub.trades.values())
            run.trades = len(trades)
            run.settled = sum(1 for t in trades if t.status == "settled")
            run.disputed = sum(1 for t in trades if t.disputed)
            stop.set()

    return service


def _self_pid() -> int:
    return os.getpid()


def _monitoring_every_10_wall_s() -> Any:
    """The demo's monitoring service at one reading per device every 10 wall seconds."""
    from gridpeer.hems.monitoring import Monitoring
    from gridpeer.runtime import services
    from gridpeer.runtime.composition import Parts

    @contextlib.asynccontextmanager
    async def monitoring(parts: Parts) -> AsyncIterator[None]:
        assert parts.store is not None and parts.broker is not None
        rate_s = parts.clock.speed * READING_EVERY_WALL_S
        mon = Monitoring(
            parts.settings.community, parts.traces, parts.broker, parts.store, parts.clock, rate_s
        )
        parts.monitoring = mon
        stop = asyncio.Event()
        task = asyncio.create_task(mon.run(stop), name="monitoring")
        task.add_done_callback(lambda t: services._stop_on_crash(t, parts))
        try:
            yield
        finally:
            stop.set()
            await task

    return monitoring


def _web_api_50(rate: float) -> dict[str, Any] | None:
    """Today's ``bench/web_api.py`` (the 50-house demo) at ``rate``: its JSON line."""
    cmd = [sys.executable, str(ROOT / "bench/web_api.py"), "--houses", "50"]
    cmd += ["--rate", str(rate), "--seconds", "10", "--json"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    print(out.stdout[-1500:], flush=True)
    return json.loads(lines[-1]) if lines else None


def full(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    from gridpeer.core.settings import load_settings
    from gridpeer.runtime.demo import demo_composition, run_demo
    from tests.services.postgres import PgServer

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    mp.set_start_method("spawn", force=True)
    tmp = Path(tempfile.mkdtemp(prefix="gp-live-full-"))
    pg = PgServer()
    try:
        with psycopg.connect(f"{pg.url}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE live")
        url = f"{pg.url}/live"

        def pg_pids() -> list[int]:
            pid_file = pg.data / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError):
                return [int(pid_file.read_text().split()[0])]
            return []

        settings = load_settings(
            None,
            houses=args.houses,
            speed=args.speed,
            data_dir=tmp,
            web={"port": 0},
            store_url=url,
        )
        comp = demo_composition()
        comp.services = [
            (n, _monitoring_every_10_wall_s() if n == "monitoring" else s) for n, s in comp.services
        ]
        run = Run()
        comp.add("probe", _probe(run, args, pg_pids))
        t0 = time.time()
        asyncio.run(run_demo(settings, START_H, args.hours, composition=comp))
        wall = time.time() - t0
        if run.web_thread is not None:  # a load phase the run outlasted ends in errors
            run.web_thread.join(120)
        skipped = 0
        if run.monitoring is not None:  # periods a late sensor node left out (CPU-starved)
            nodes = {id(n): n for n in run.monitoring.sensors.values()}.values()
            skipped = sum(n.skipped * len(n.houses) * 3 for n in nodes)
        published = sum(run.monitoring.published().values()) if run.monitoring else 0
        start_ms = int(run.start.timestamp() * 1000)
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*), min(ts_ms), max(ts_ms) FROM samples WHERE ts_ms >= %s",
                (start_ms,),
            ).fetchone()
        stored = int(row[0]) if row else 0
        # the readings' span on the model clock, in wall seconds, + one period
        span_ms = int(row[2]) - int(row[1]) if row and row[1] is not None else 0
        live_s = span_ms / 1000 / args.speed + READING_EVERY_WALL_S
    finally:
        pg.remove()
        shutil.rmtree(tmp, ignore_errors=True)
    web = run.web
    result: dict[str, Any] = {
        "houses": args.houses,
        "readings_per_s": round(stored / live_s, 1) if live_s > 0 else None,
        "published": published,
        "skipped_late": skipped,
        "lost": published - stored,
        "trades": run.trades,
        "settled": run.settled,
        "disputed": run.disputed,
        "oracle_p99_ms": _p99(run.oracle_ms),
        "oracle_p50_ms": _p50(run.oracle_ms),
        "oracle_passes": len(run.oracle_ms),
        "web_p99_ms": web.get("read", {}).get("p99_ms"),
        "web_static_p99_ms": web.get("static", {}).get("p99_ms"),
        "web_rps": web.get("read", {}).get("rps"),
        "web_errors": web.get("read", {}).get("errors"),
        "threads_max": run.threads_max - BENCH_THREADS,
        "rss_mb_total": round(run.rss_mb_max, 1),
        "speed": args.speed,
        "wall_s": round(wall, 1),
        "loadavg_1min": round(os.getloadavg()[0], 1),  # the machine is shared
        "setup_s": round(run.ready_wall - t0, 1),
        "houses_nice": args.houses_nice,
    }
    print(json.dumps(result), flush=True)
    if not args.no_web_api:
        result["web_api_50"] = _web_api_50(args.rate)
    return result
