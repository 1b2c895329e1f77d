"""``gridpeer demo``: the whole system on one machine, from simulated houses to the web app
(see :func:`demo_composition`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from gridpeer.core.clock import Clock
from gridpeer.core.settings import Settings
from gridpeer.devices.trace import HouseTrace, TraceSource
from gridpeer.runtime.composition import Composition, Parts, run_until_stopped
from gridpeer.web.models import HouseInfo

log = logging.getLogger(__name__)


@contextlib.contextmanager
def data_directory(configured: Path | None) -> Iterator[Path]:
    """``configured`` (created if missing), or a temporary directory removed afterwards."""
    if configured is not None:
        configured.mkdir(parents=True, exist_ok=True)
        yield configured
        return
    with tempfile.TemporaryDirectory(prefix="gridpeer-demo-") as tmp:
        yield Path(tmp)


def demo_clock(
    speed: float, start_hour: float, now: datetime | None = None, *, held: bool = False
) -> Clock:
    """A clock starting at ``start_hour`` (UTC) model time, running ``speed``×: today if
    that is still ahead of ``now`` (wall time), else tomorrow — a dev chain's time starts
    at wall time and only moves forward, so model time must not be behind it. ``held``:
    created held at that start until :meth:`~gridpeer.core.clock.Clock.release`."""
    wall = now or datetime.now(UTC)
    start = datetime.combine(wall.date(), time(0), tzinfo=UTC) + timedelta(hours=start_hour)
    if start <= wall:
        start += timedelta(days=1)
    return Clock(start=start, speed=speed, held=held)


def demo_houses(
    settings: Settings, day: date
) -> tuple[list[HouseInfo], list[HouseTrace | TraceSource]]:
    """The demo community: the thesis lab's mix of houses and their flows day after day
    (``day`` simulated now, each later day when it is first needed; every day differs);
    with ``[market] strategy = "mpc"`` the batteries follow their agents' schedules."""
    from gridpeer.runtime.community import house_days, house_info, lab_configs

    configs = lab_configs(settings.houses)
    mpc = settings.market.strategy == "mpc"
    return [house_info(c) for c in configs], list(house_days(configs, day, scheduled=mpc))


def demo_composition() -> Composition:
    """The demo's services: store, history (the day so far), broker, monitoring (sensor
    nodes + home agents over MQTT), chain (market contract, members, chain clock), oracle
    (the oracle and the houses' delivery agents with their relays), coordinator (signed
    orders cleared and settled, for the centralized and hybrid designs), trading (the houses'
    trading agents), web (in its own process, spawned right after the store so that it
    imports its stack while the rest starts: :mod:`gridpeer.runtime.web_process`)."""
    from gridpeer.runtime import services
    from gridpeer.runtime.coordinator import coordinator
    from gridpeer.runtime.delivery import delivery
    from gridpeer.runtime.metrics import metrics_endpoint
    from gridpeer.runtime.web_process import web_process_services

    spawn_web, web = web_process_services()
    comp = Composition()
    comp.add("store", services.store)
    comp.add("web-process", spawn_web)
    comp.add("history", services.seed_history)
    comp.add("broker", services.embedded_broker)
    comp.add("monitoring", services.monitoring)
    comp.add("chain", services.chain)
    comp.add("oracle", delivery)
    comp.add("coordinator", coordinator)  # centralized/hybrid designs only
    comp.add("trading", services.trading)
    comp.add("metrics", metrics_endpoint)  # relayed by the web process's /metrics
    comp.add("clock", release_clock)  # before "web": the web process copies the clock
    comp.add("web", web)
    return comp


@contextlib.asynccontextmanager
async def release_clock(parts: Parts) -> AsyncIterator[None]:
    """Start model time: :func:`run_demo` creates the clock held at its start while the
    demo sets up (a 1,000-house demo takes minutes to simulate, deploy and register its
    houses: at 60× the first trading windows were over before the agents were ready)."""
    parts.clock.release()
    if parts.delivery is not None:  # an oracle in its own process gets the running clock
        await asyncio.to_thread(parts.delivery.run_oracle, parts.clock)
    log.info("model clock running from %s at %g×", parts.clock.now(), parts.clock.speed)
    yield


async def run_demo(
    settings: Settings,
    start_hour: float = 14.0,
    duration_h: float | None = None,
    on_ready: Callable[[Parts], None] | None = None,
    composition: Composition | None = None,
) -> None:
    """Run the demo until Ctrl-C/SIGTERM or ``duration_h`` model hours."""
    houses, traces = demo_houses(settings, demo_clock(1.0, start_hour).start.date())
    # held: model time starts when everything is up (the "clock" service)
    clock = demo_clock(settings.speed, start_hour, held=True)
    with data_directory(settings.data_dir) as data_dir:
        parts = Parts(
            settings=settings, clock=clock, data_dir=data_dir, houses=houses, traces=traces
        )
        await run_until_stopped(parts, composition or demo_composition(), duration_h, on_ready)
