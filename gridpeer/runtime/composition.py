"""``gridpeer demo``: the whole system in one process, composed from named services.

A *service* is a function ``(parts) -> async context manager``: entering starts it (and
may publish what it provides on :class:`Parts`, e.g. the broker address), exiting stops
it. :class:`Composition` enters services in order and exits them in reverse, so Ctrl-C
stops everything cleanly. :func:`demo_composition` lists every service of the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress
from gridpeer.core.settings import Settings
from gridpeer.devices.trace import HouseTrace
from gridpeer.store.base import Store
from gridpeer.web.models import HouseInfo

if TYPE_CHECKING:  # heavy stacks (web3, paho): imported by the services that start them
    from gridpeer.chain import Chain
    from gridpeer.chain.hub import ChainHub
    from gridpeer.hems.host import AgentHost
    from gridpeer.hems.monitoring import Monitoring
    from gridpeer.hems.trading_live import TradingAgent
    from gridpeer.oracle.service import Oracle
    from gridpeer.runtime.delivery_runtime import DeliveryRuntime

log = logging.getLogger(__name__)


@dataclass
class Parts:
    """The running parts of one ``demo`` or ``serve``: what each service needs and what it
    provides, typed. A service asserts what it needs and sets what it starts.

    Attributes:
        settings: the run's settings.
        clock: the model clock (accelerated by ``settings.speed``).
        data_dir: directory for the SQLite file and run state.
        houses: the community's houses (display info).
        traces: each house's simulated power flows (same order as ``houses``; demo only).
        stop: set to stop the run (Ctrl-C, duration reached, a service crashed).
        store: the telemetry store (``store`` service) and its URL, for other processes.
        broker: MQTT broker address (``broker`` service, or the configured one).
        chain: the dev chain with its funded keys (demo ``chain`` service).
        hub: the market contract, its indexer and the houses' dev keys (``chain``).
        chain_url: JSON-RPC URL of the chain, for the web process and wallets.
        monitoring: the simulated sensor nodes and home agents (demo).
        ingest: the home agents' ingest of real sensor nodes (serve).
        delivery: the oracle and the houses' delivery agents in this process (demo).
        oracle: the oracle alone (serve: the delivery agents run at the houses).
        trading: each house's trading agent, by house id (demo with agents).
        url: base URL of the web app (``web`` service).
    """

    settings: Settings
    clock: Clock
    data_dir: Path
    houses: list[HouseInfo]
    traces: list[HouseTrace]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    store: Store | None = None
    store_url: str | None = None
    broker: BrokerAddress | None = None
    chain: Chain | None = None
    hub: ChainHub | None = None
    chain_url: str | None = None
    monitoring: Monitoring | None = None
    ingest: AgentHost | None = None
    delivery: DeliveryRuntime | None = None
    oracle: Oracle | None = None
    trading: dict[str, TradingAgent] | None = None
    url: str | None = None


Service = Callable[[Parts], AbstractAsyncContextManager[None]]


class Composition:
    """An ordered list of named services, started in order and stopped in reverse."""

    def __init__(self) -> None:
        self.services: list[tuple[str, Service]] = []

    def names(self) -> list[str]:
        """Service names in start order."""
        return [n for n, _ in self.services]

    def add(self, name: str, service: Service) -> None:
        """Add ``service`` at the end.

        Raises:
            ValueError: duplicate ``name``.
        """
        if name in self.names():
            raise ValueError(f"service {name!r} is already in the composition")
        self.services.append((name, service))

    async def run(self, parts: Parts, on_ready: Callable[[Parts], None] | None = None) -> None:
        """Start every service, call ``on_ready``, wait for ``parts.stop``, stop all."""
        async with AsyncExitStack() as stack:
            for name, service in self.services:
                log.debug("starting %s", name)
                await stack.enter_async_context(_logged(name, service(parts)))
            if on_ready is not None:
                on_ready(parts)
            await parts.stop.wait()
            log.info("stopping")


@contextlib.asynccontextmanager
async def _logged(name: str, cm: AbstractAsyncContextManager[None]) -> AsyncIterator[None]:
    async with cm:
        log.debug("%s started", name)
        yield
    log.debug("%s stopped", name)


@contextlib.contextmanager
def data_directory(configured: Path | None) -> Iterator[Path]:
    """``configured`` (created if missing), or a temporary directory removed afterwards."""
    if configured is not None:
        configured.mkdir(parents=True, exist_ok=True)
        yield configured
        return
    with tempfile.TemporaryDirectory(prefix="gridpeer-demo-") as tmp:
        yield Path(tmp)


def demo_clock(speed: float, start_hour: float, now: datetime | None = None) -> Clock:
    """A clock starting at ``start_hour`` (UTC) model time, running ``speed``×: today if
    that is still ahead of ``now`` (wall time), else tomorrow — a dev chain's time starts
    at wall time and only moves forward, so model time must not be behind it."""
    wall = now or datetime.now(UTC)
    start = datetime.combine(wall.date(), time(0), tzinfo=UTC) + timedelta(hours=start_hour)
    if start <= wall:
        start += timedelta(days=1)
    return Clock(start=start, speed=speed)


def demo_houses(settings: Settings, day: date) -> tuple[list[HouseInfo], list[HouseTrace]]:
    """The demo community: the thesis lab's mix of houses and one UTC day of their traces
    (the trace repeats daily)."""
    from gridpeer.runtime.community import house_info, lab_configs, simulate_day

    configs = lab_configs(settings.houses)
    return [house_info(c) for c in configs], simulate_day(configs, day)


def demo_composition() -> Composition:
    """The demo's services: store, history (the day so far), broker, monitoring (sensor
    nodes + home agents over MQTT), chain (market contract, members, chain clock),
    delivery (agents with relays), oracle, web (in its own process, see
    :mod:`gridpeer.runtime.web_process`)."""
    from gridpeer.runtime import services
    from gridpeer.runtime.delivery import delivery
    from gridpeer.runtime.web_process import web_process

    comp = Composition()
    comp.add("store", services.store)
    comp.add("history", services.seed_history)
    comp.add("broker", services.embedded_broker)
    comp.add("monitoring", services.monitoring)
    comp.add("chain", services.chain)
    comp.add("oracle", delivery)
    comp.add("trading", services.trading)
    comp.add("web", web_process)
    return comp


async def run_demo(
    settings: Settings,
    start_hour: float = 12.0,
    duration_h: float | None = None,
    on_ready: Callable[[Parts], None] | None = None,
    composition: Composition | None = None,
) -> None:
    """Run the demo until Ctrl-C/SIGTERM or ``duration_h`` model hours."""
    houses, traces = demo_houses(settings, demo_clock(1.0, start_hour).start.date())
    clock = demo_clock(settings.speed, start_hour)  # starts once the houses are simulated
    with data_directory(settings.data_dir) as data_dir:
        parts = Parts(
            settings=settings, clock=clock, data_dir=data_dir, houses=houses, traces=traces
        )
        await run_until_stopped(parts, composition or demo_composition(), duration_h, on_ready)


async def run_until_stopped(
    parts: Parts,
    composition: Composition,
    duration_h: float | None = None,
    on_ready: Callable[[Parts], None] | None = None,
) -> None:
    """Run ``composition`` until Ctrl-C/SIGTERM or ``duration_h`` model hours."""
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, parts.stop.set)
    timer = None
    if duration_h is not None:
        timer = loop.call_later(parts.clock.wall_seconds(duration_h * 3600.0), parts.stop.set)
    try:
        await composition.run(parts, on_ready)
    finally:
        if timer is not None:
            timer.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
