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


GROUP_ABOVE = 50
"""Communities of more houses than this share sensor nodes and agent hosts by groups of
houses (one MQTT session per group and role), unless every house has its own MQTT
credentials."""
MAX_GROUPS = 10
"""At most this many groups: a group is :data:`GROUP_ABOVE` houses, or more when the
community is bigger than ``GROUP_ABOVE × MAX_GROUPS``. 1,000 houses: 10 groups of 100,
~60 threads in the demo's process instead of ~4,000."""


def house_groups(houses: Sequence[str], per_house_credentials: bool) -> list[list[str]]:
    """The houses served together by one sensor node and one agent host: each alone up
    to :data:`GROUP_ABOVE` houses or with per-house credentials, else in at most
    :data:`MAX_GROUPS` groups of at least :data:`GROUP_ABOVE` (in order)."""
    if per_house_credentials or len(houses) <= GROUP_ABOVE:
        return [[h] for h in houses]
    size = max(GROUP_ABOVE, -(-len(houses) // MAX_GROUPS))
    return [list(houses[k : k + size]) for k in range(0, len(houses), size)]


class Monitoring:
    """Sensor nodes + agent hosts: one per house (one MQTT session each), or one per
    group of houses in big communities (:func:`house_groups`).

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
        by_house = {t.house: t for t in traces}
        self.groups = house_groups(houses, bool(creds))
        self.sensors: dict[str, SensorNode] = {}
        self.hosts: dict[str, AgentHost] = {}  # house -> its host (shared within a group)
        for group in self.groups:
            first = group[0]
            node = SensorNode(community, [by_house[h] for h in group], addr[first], clock, rate_s)
            host = AgentHost(
                community, group, addr[first], store, clock=clock, flush_interval_s=flush_interval_s
            )
            for h in group:
                self.sensors[h], self.hosts[h] = node, host
        self.drain_timeout_s = drain_timeout_s
        self.connect_timeout_s = connect_timeout_s

    def _unique(self) -> list[tuple[SensorNode, AgentHost]]:
        """Each group's sensor node and agent host once."""
        return [(self.sensors[g[0]], self.hosts[g[0]]) for g in self.groups]

    def metrics(self) -> dict[str, AgentMetrics]:
        """Per-house agent metrics (snapshot; safe from any thread)."""
        out: dict[str, AgentMetrics] = {}
        for _, host in self._unique():
            out.update(host.metrics())
        return out

    def state(self, house: str) -> dict[str, Sample]:
        """Current state of a house as its agent sees it: latest sample per device."""
        host = self.hosts[house]
        with host.lock:
            return dict(host.agents[house].state)

    def published(self) -> dict[str, int]:
        """Messages published per house by the simulated sensor nodes."""
        return {h: s.published_by[h] for h, s in self.sensors.items()}

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
            for _, host in self._unique():
                await asyncio.to_thread(host.start, self.connect_timeout_s)
                started.append(host)
            log.info("monitoring %d houses (%d sessions)", len(self.hosts), len(self.groups))
            await asyncio.gather(*(guarded(s) for s, _ in self._unique()))
            await asyncio.gather(
                *(
                    asyncio.to_thread(host.wait_stored, s.acked, self.drain_timeout_s)
                    for s, host in self._unique()
                )
            )
        finally:
            relay_task.cancel()
            for host in started:
                await asyncio.to_thread(host.stop)
        lost = {
            ",".join(s.houses): s.published - host.stored
            for s, host in self._unique()
            if s.published > host.stored
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
