"""The running system as a list of services over typed :class:`Parts`.

A *service* is a function ``(parts) -> async context manager``: entering starts it (and
sets what it provides on :class:`Parts`, e.g. the broker address), exiting stops it.
:class:`Composition` enters services in order and exits them in reverse, so Ctrl-C stops
everything cleanly. :func:`gridpeer.runtime.demo.demo_composition` and
:func:`gridpeer.runtime.serve.serve_composition` list the services of ``demo`` and
``serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress
from gridpeer.core.settings import Settings
from gridpeer.devices.trace import HouseTrace, TraceSource
from gridpeer.store.base import Store
from gridpeer.web.models import HouseInfo

if TYPE_CHECKING:  # heavy stacks (web3, paho): imported by the services that start them
    from gridpeer.chain import Chain
    from gridpeer.chain.hub import ChainHub
    from gridpeer.coordinator.service import Coordinator
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
        traces: each house's simulated power flows, day after day (same order as
            ``houses``; demo only).
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
        coordinator: the coordinator of the centralized/hybrid designs (``coordinator``
            service); agents hand it signed orders with ``accept``.
        trading: each house's trading agent, by house id (demo with agents).
        url: base URL of the web app (``web`` service).
        metrics_url: where this run's Prometheus metrics are served when the web app runs
            in another process (demo ``metrics`` service); its ``/metrics`` relays them.
    """

    settings: Settings
    clock: Clock
    data_dir: Path
    houses: list[HouseInfo]
    traces: list[HouseTrace | TraceSource]
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
    coordinator: Coordinator | None = None
    trading: dict[str, TradingAgent] | None = None
    url: str | None = None
    metrics_url: str | None = None


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
                try:
                    await stack.enter_async_context(_logged(name, service(parts)))
                except (OSError, ConnectionError) as exc:  # say which service, then stop
                    log.error("service %s did not start: %s", name, exc)
                    raise
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


async def run_until_stopped(
    parts: Parts,
    composition: Composition,
    duration_h: float | None = None,
    on_ready: Callable[[Parts], None] | None = None,
) -> None:
    """Run ``composition`` until Ctrl-C/SIGTERM or ``duration_h`` model hours (counted from
    when every service is up)."""
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, parts.stop.set)
    timer: asyncio.TimerHandle | None = None

    def ready(p: Parts) -> None:
        nonlocal timer
        if duration_h is not None:
            timer = loop.call_later(p.clock.wall_seconds(duration_h * 3600.0), p.stop.set)
        if on_ready is not None:
            on_ready(p)

    try:
        await composition.run(parts, ready)
    finally:
        if timer is not None:
            timer.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
