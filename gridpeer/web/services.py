"""The demo's services (see :mod:`gridpeer.web.demo`): each an async context manager over
:class:`~gridpeer.web.demo.Parts` that starts on enter and stops on exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from collections.abc import AsyncIterator
from datetime import datetime

from gridpeer.store.base import Sample, Store
from gridpeer.web.demo import Parts

log = logging.getLogger(__name__)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def sqlite_store(parts: Parts) -> AsyncIterator[None]:
    """SQLite (WAL) in the data directory, or ``settings.store_url`` if set."""
    from gridpeer.store.sqlite import SQLiteStore

    url = parts.settings.store_url
    path = url.removeprefix("sqlite:///") if url else str(parts.data_dir / "gridpeer.db")
    store = SQLiteStore(path)
    parts.store = store
    try:
        yield
    finally:
        store.close()


@contextlib.asynccontextmanager
async def embedded_broker(parts: Parts) -> AsyncIterator[None]:
    """The embedded amqtt broker on 127.0.0.1 (``mqtt.port``, or a free port if 0)."""
    from gridpeer.telemetry.broker import start_embedded_broker

    host = parts.settings.mqtt.host
    broker = await start_embedded_broker(parts.settings.mqtt.port or _free_port(host), host)
    parts.broker = broker.address
    try:
        yield
    finally:
        await broker.stop()


def _samples(house: str, readings: list[tuple[str, dict[str, float | int | str]]]) -> list[Sample]:
    out = []
    for device, body in readings:
        ts = datetime.fromisoformat(str(body["ts"]).replace("Z", "+00:00"))
        num = {k: v for k, v in body.items() if k != "ts"}
        e_wh = num.get("e_wh")
        out.append(
            Sample(
                house=house,
                device=str(device),
                ts=ts,
                v=_f(num.get("v")),
                i=_f(num.get("i")),
                p=_f(num.get("p")),
                e_wh=int(e_wh) if e_wh is not None else None,
                p_grid=_f(num.get("p_grid")),
                soc=_f(num.get("soc")),
            )
        )
    return out


def _f(x: float | int | str | None) -> float | None:
    return None if x is None else float(x)


async def _feed(parts: Parts, store: Store, stop: asyncio.Event) -> None:
    """Write each house's readings straight into the store on the model clock: first the
    day so far (1-min steps from midnight), then one step per half wall second."""
    from gridpeer.telemetry.sensor import TraceSampler

    samplers = [(t.house, TraceSampler(t)) for t in parts.traces]
    clock = parts.clock
    step_ms = max(1000, round(clock.speed * 500) // 1000 * 1000)
    day0_ms = round(parts.traces[0].start.timestamp() * 1000) if parts.traces else 0
    now_ms = math.floor(clock.timestamp() * 1000)
    rows: list[Sample] = []
    for ts in range(day0_ms, now_ms, 60_000):
        for house, sampler in samplers:
            rows += _samples(house, list(sampler.readings(ts)))
    store.write(rows)
    next_ms = now_ms // step_ms * step_ms
    while not stop.is_set():
        now_ms = math.floor(clock.timestamp() * 1000)
        if now_ms >= next_ms:
            rows = []
            for house, sampler in samplers:
                rows += _samples(house, list(sampler.readings(next_ms)))
            store.write(rows)
            next_ms = max(next_ms + step_ms, now_ms // step_ms * step_ms)
        wait = clock.wall_seconds((next_ms - now_ms) / 1000.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(wait, 0.01))


def _stop_on_crash(task: asyncio.Task[None], parts: Parts) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s crashed; stopping the demo", task.get_name(), exc_info=task.exception())
        parts.stop.set()


@contextlib.asynccontextmanager
async def monitoring(parts: Parts) -> AsyncIterator[None]:
    """Every house's sensor readings into the store, on the model clock."""
    assert parts.store is not None, "monitoring needs the store service first"
    stop = asyncio.Event()
    task = asyncio.create_task(_feed(parts, parts.store, stop), name="monitoring")
    task.add_done_callback(lambda t: _stop_on_crash(t, parts))
    try:
        yield
    finally:
        stop.set()
        await task


@contextlib.asynccontextmanager
async def web(parts: Parts) -> AsyncIterator[None]:
    """The web app on ``web.host:web.port``; sets ``parts.url``."""
    from gridpeer.web.app import create_app
    from gridpeer.web.context import WebContext
    from gridpeer.web.server import bind, serving

    assert parts.store is not None, "web needs the store service first"
    ctx = WebContext.create(
        parts.store, parts.clock, parts.houses, community=parts.settings.community
    )
    ctx.extras.update(parts.extras)
    sock = bind(parts.settings.web.host, parts.settings.web.port)
    async with serving(create_app(ctx), ctx, sock) as url:
        parts.url = url
        yield
