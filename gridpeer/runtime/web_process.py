"""The demo's web app in a process of its own.

``gridpeer demo`` simulates a whole community in one process: a broker, every house's
sensor node, home agent, delivery agent and trading agent, the oracle and (by default)
the chain. With 50 houses that is ~260 threads sharing one interpreter lock, and web
requests waited behind them: at a steady 250 req/s the p99 was 0.24 s, and 20 s while
the agents traded (``bench/web_api.py``; 7–15 ms in its own process). So the web app
runs in its own process, the way it would in production (``gridpeer serve``): it reads
the same store (SQLite in WAL mode or PostgreSQL) and reaches the chain over JSON-RPC —
anvil's URL, or the embedded chain served by :class:`gridpeer.chain.rpc_server.RpcServer`.

The child stops when the demo stops (a ``stop`` message), on Ctrl-C or SIGTERM, and when
the demo process disappears (the pipe closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridpeer.core.clock import Clock
from gridpeer.core.settings import Settings
from gridpeer.runtime.composition import Composition, Parts, Service
from gridpeer.web.models import HouseInfo

if TYPE_CHECKING:
    from gridpeer.chain.hub import ChainHub

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
"""How long the demo waits for the web process to listen (imports take a few seconds)."""


@dataclass(frozen=True)
class WebSpec:
    """What the web process needs to know (picklable).

    Attributes:
        settings: the run's settings; ``store_url`` is the store to read (a file or a
            server, not ``:memory:``).
        clock: the demo's model clock (monotonic time is shared by all processes).
        houses: display info of the houses.
        data_dir: the run's data directory.
        chain_url: JSON-RPC URL of the chain, or None (no market).
        market: address of the deployed market contract, or None.
        demo_keys: house id → private key (hex) of its dev account (demo only).
        metrics_url: the demo process's Prometheus endpoint, relayed at ``/metrics``.
    """

    settings: Settings
    clock: Clock
    houses: list[HouseInfo]
    data_dir: Path
    chain_url: str | None = None
    market: str | None = None
    demo_keys: tuple[tuple[str, str], ...] = ()
    metrics_url: str | None = None


def shareable(store_url: str) -> bool:
    """Whether another process can open the same store (an in-memory SQLite cannot)."""
    return ":memory:" not in store_url and store_url != "sqlite://"


def web_process_services() -> tuple[Service, Service]:
    """The web app in its own process, as two services of the demo:

    * ``spawn`` (right after the store): starts the process, which imports the web stack
      (FastAPI, uvicorn, web3: about 2 s) on the other core while the demo deploys its
      chain and starts its agents;
    * ``web`` (last): tells it what to serve and waits until it listens; sets
      ``parts.url``.

    With a store another process cannot open (``:memory:``), ``spawn`` does nothing and
    ``web`` runs the app in this process.
    """
    child: list[tuple[BaseProcess, Connection]] = []

    @contextlib.asynccontextmanager
    async def spawn(parts: Parts) -> AsyncIterator[None]:
        if parts.store_url is None or not shareable(parts.store_url):
            yield
            return
        ctx = mp.get_context("spawn")  # never fork a process with hundreds of threads
        here, there = ctx.Pipe()
        proc = ctx.Process(target=child_main, args=(there,), name="gridpeer-web", daemon=True)
        proc.start()
        there.close()
        child.append((proc, here))
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                here.send(("stop", ""))
            await asyncio.to_thread(proc.join, 10)
            if proc.is_alive():
                log.warning("web process did not stop in 10 s; terminating it")
                proc.terminate()
                await asyncio.to_thread(proc.join, 5)
            here.close()
            child.clear()

    @contextlib.asynccontextmanager
    async def web(parts: Parts) -> AsyncIterator[None]:
        """Raises: OSError: the web process could not start (e.g. the port is taken)."""
        from gridpeer.runtime import services

        if not child:
            async with services.web(parts):
                yield
            return
        _, conn = child[0]
        conn.send(("spec", _spec(parts)))
        kind, value = await asyncio.to_thread(_receive, conn, START_TIMEOUT_S)
        if kind != "ready":
            raise OSError(value)
        parts.url = value
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                conn.send(("stop", ""))

    return spawn, web


def _spec(parts: Parts) -> WebSpec:
    hub = parts.hub
    assert parts.store_url is not None
    return WebSpec(
        settings=_plain(parts.settings, store_url=parts.store_url),
        clock=parts.clock,
        houses=list(parts.houses),
        data_dir=parts.data_dir,
        chain_url=parts.chain_url if hub is not None else None,
        market=hub.market.address if hub is not None else None,
        demo_keys=tuple((h, k.key.hex()) for h, k in hub.demo_keys.items()) if hub else (),
        metrics_url=parts.metrics_url,
    )


def _plain(settings: Settings, **changes: Any) -> Settings:
    """The same values (with ``changes``) as a plain :class:`Settings` (``load_settings``
    builds a subclass per config file, which cannot be pickled)."""
    values = {k: getattr(settings, k) for k in Settings.model_fields}
    return Settings.model_construct(**(values | changes))


def _receive(conn: Connection, timeout_s: float) -> tuple[str, str]:
    if not conn.poll(timeout_s):
        return "error", f"the web process did not start within {timeout_s:g} s"
    try:
        kind, value = conn.recv()
    except EOFError:
        return "error", "the web process exited while starting (see the log above)"
    return str(kind), str(value)


def child_main(conn: Connection) -> None:
    """Entry point of the web process: import the web stack, wait for what to serve (or
    for "stop", or the demo's end), serve it."""
    logging.basicConfig(level=logging.WARNING, format="web: %(levelname)s %(name)s: %(message)s")
    import gridpeer.chain.web3_backend
    import gridpeer.runtime.services
    import gridpeer.web.app  # noqa: F401  (imported now, while the demo starts)
    from gridpeer.web.server import run_loop

    try:
        kind, spec = conn.recv()
    except (EOFError, OSError):  # the demo stopped before the web app was needed
        return
    if kind != "spec":
        return
    try:
        run_loop(_serve(spec, conn))
    except OSError as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", str(exc)))


async def _serve(spec: WebSpec, conn: Connection) -> None:
    from gridpeer.runtime.composition import run_until_stopped

    parts = Parts(
        settings=spec.settings,
        clock=spec.clock,
        data_dir=spec.data_dir,
        houses=list(spec.houses),
        traces=[],
        metrics_url=spec.metrics_url,
    )
    loop = asyncio.get_running_loop()

    def watch_parent() -> None:  # a "stop" message, or the demo process is gone
        with contextlib.suppress(EOFError, OSError):
            conn.recv()
        loop.call_soon_threadsafe(parts.stop.set)

    def ready(p: Parts) -> None:
        conn.send(("ready", p.url))
        threading.Thread(target=watch_parent, name="web-parent", daemon=True).start()

    await run_until_stopped(parts, _composition(spec), on_ready=ready)


def _composition(spec: WebSpec) -> Composition:
    from gridpeer.runtime import services

    @contextlib.asynccontextmanager
    async def chain(parts: Parts) -> AsyncIterator[None]:
        if spec.chain_url is None or spec.market is None:
            yield
            return
        hub = await asyncio.to_thread(_hub, spec, parts.clock)
        async with services.running_hub(parts, hub):
            yield

    comp = Composition()
    comp.add("store", services.store)  # settings.store_url: the demo's store
    comp.add("chain", chain)
    comp.add("web", services.web)
    return comp


def _hub(spec: WebSpec, clock: Clock) -> ChainHub:
    from eth_account import Account

    from gridpeer.chain.client import MarketClient
    from gridpeer.chain.hub import ChainHub
    from gridpeer.chain.web3_backend import Web3Backend

    assert spec.chain_url is not None and spec.market is not None
    backend = Web3Backend.rpc(spec.chain_url)
    keys = {house: Account.from_key(key) for house, key in spec.demo_keys}
    return ChainHub(MarketClient(backend, spec.market), clock, keys)
