"""Run a community's monitoring: every house's simulated sensor node and home agent,
until stopped. The entry point for ``gridpeer demo`` / ``serve``::

    stop = asyncio.Event()
    mon = Monitoring("demo", traces, broker.address, store, clock, rate_s=60)
    task = asyncio.create_task(mon.run(stop))
    ...  # mon.metrics() any time, from any thread
    stop.set(); await task

Start order: agents first (subscribed, persistent sessions), then sensors, so nothing
published is missed. Stop order: sensors stop and wait for their broker acks, then the
agents wait until what was published is stored (up to ``drain_timeout_s``), flush, and
disconnect. No task or thread is left running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress
from gridpeer.devices.trace import HouseTrace, TraceSource
from gridpeer.hems.host import AgentHost
from gridpeer.hems.metrics import AgentMetrics
from gridpeer.store.base import Sample, Store
from gridpeer.telemetry.sensor import SensorNode

log = logging.getLogger(__name__)


class Monitoring:
    """Sensor nodes + one agent host per house (one MQTT session each).

    Args:
        community: community id (topic segment).
        traces: each house's flows, a :class:`TraceSource` (every day of the run) or a
            fixed :class:`HouseTrace` (repeated); house ids must be unique.
        broker: MQTT broker address (credentials, if any, are used by every client).
        store: where agents write samples.
        clock: model time for the readings.
        rate_s: model seconds between two readings of a device.
        flush_interval_s: agents write to the store at least this often (wall s).
        drain_timeout_s: on stop, how long (wall s) to wait for in-flight messages.
        connect_timeout_s: how long (wall s) an agent waits for the broker at start.
        credentials: house -> (MQTT user, password) for its sensor node and agent (with
            Mosquitto ACLs from :func:`gridpeer.telemetry.broker.write_acl`); ``None`` =
            ``broker``'s own credentials for everyone.
    """

    def __init__(
        self,
        community: str,
        traces: Sequence[HouseTrace | TraceSource],
        broker: BrokerAddress,
        store: Store,
        clock: Clock,
        rate_s: float = 1.0,
        *,
        flush_interval_s: float = 0.2,
        drain_timeout_s: float = 15.0,
        connect_timeout_s: float = 10.0,
        credentials: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        houses = [t.house for t in traces]
        if len(set(houses)) != len(houses):
            raise ValueError(f"duplicate house ids in traces: {houses}")
        creds = credentials or {}
        missing = [h for h in houses if creds and h not in creds]
        if missing:
            raise ValueError(f"no MQTT credentials for houses {missing}")
        addr = {h: broker.as_user(*creds[h]) if h in creds else broker for h in houses}
        self.sensors = {
            t.house: SensorNode(community, t, addr[t.house], clock, rate_s) for t in traces
        }
        self.hosts = {
            h: AgentHost(
                community, [h], addr[h], store, clock=clock, flush_interval_s=flush_interval_s
            )
            for h in houses
        }
        self.drain_timeout_s = drain_timeout_s
        self.connect_timeout_s = connect_timeout_s

    def metrics(self) -> dict[str, AgentMetrics]:
        """Per-house agent metrics (snapshot; safe from any thread)."""
        out: dict[str, AgentMetrics] = {}
        for host in self.hosts.values():
            out.update(host.metrics())
        return out

    def state(self, house: str) -> dict[str, Sample]:
        """Current state of a house as its agent sees it: latest sample per device."""
        host = self.hosts[house]
        with host.lock:
            return dict(host.agents[house].state)

    def published(self) -> dict[str, int]:
        """Messages published per house by the simulated sensor nodes."""
        return {h: s.published for h, s in self.sensors.items()}

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down cleanly (see module docs)."""
        started: list[AgentHost] = []
        halt = asyncio.Event()  # set by ``stop`` or by the first sensor that fails

        async def relay() -> None:
            await stop.wait()
            halt.set()

        async def guarded(sensor: SensorNode) -> None:
            try:
                await sensor.run(halt)
            except BaseException:
                halt.set()
                raise

        relay_task = asyncio.create_task(relay())
        try:
            for host in self.hosts.values():
                await asyncio.to_thread(host.start, self.connect_timeout_s)
                started.append(host)
            log.info("monitoring %d houses", len(self.hosts))
            await asyncio.gather(*(guarded(s) for s in self.sensors.values()))
            await asyncio.gather(
                *(
                    asyncio.to_thread(self.hosts[h].wait_stored, s.acked, self.drain_timeout_s)
                    for h, s in self.sensors.items()
                )
            )
        finally:
            relay_task.cancel()
            for host in started:
                await asyncio.to_thread(host.stop)
        lost = {
            h: s.published - self.hosts[h].stored
            for h, s in self.sensors.items()
            if s.published > self.hosts[h].stored
        }
        if lost:
            log.warning("stopped with messages not yet stored (left in the broker): %s", lost)


async def run_monitoring(
    community: str,
    traces: Sequence[HouseTrace | TraceSource],
    broker: BrokerAddress,
    store: Store,
    clock: Clock,
    stop: asyncio.Event,
    rate_s: float = 1.0,
) -> Monitoring:
    """Run :class:`Monitoring` until ``stop`` is set; returns it (for its final metrics)."""
    mon = Monitoring(community, traces, broker, store, clock, rate_s)
    await mon.run(stop)
    return mon
