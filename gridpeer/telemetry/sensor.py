"""Simulated sensor nodes: publish a house's meter, PV and BESS readings from its
simulated flows (a :class:`~gridpeer.devices.trace.TraceSource`: the house's own day,
whatever day of the run it is) at the model time of a :class:`Clock`.

:class:`TraceSampler` is pure (flows + time → payloads); :class:`SensorNode` does the I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import QOS, BrokerAddress, MqttClient
from gridpeer.devices.trace import HouseTrace, TraceSource, as_source
from gridpeer.telemetry.schemas import Device
from gridpeer.telemetry.topics import check_name, reading_topic

Payload = dict[str, float | int | str]


def iso_ms(ts_ms: int) -> str:
    """POSIX milliseconds → ISO 8601 UTC string with millisecond precision and ``Z``."""
    dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


def encode(payload: Payload) -> bytes:
    """Compact JSON bytes of a payload."""
    return json.dumps(payload, separators=(",", ":")).encode()


class TraceSampler:
    """Readings of one house at any model time, from its flows (a fixed
    :class:`HouseTrace` repeats after its end); the cumulative meter energy counts from the
    source's start, across days.

    Devices present: the meter always, PV if the house has PV, BESS if it has a battery,
    the EV charger if it has a car.
    """

    def __init__(self, trace: HouseTrace | TraceSource) -> None:
        self.source = as_source(trace)
        self.devices: tuple[Device, ...] = (Device.METER,)
        if self.source.has_pv:
            self.devices += (Device.PV,)
        if self.source.has_battery:
            self.devices += (Device.BESS,)
        if self.source.has_ev:
            self.devices += (Device.EV,)

    def readings(self, ts_ms: int) -> list[tuple[Device, Payload]]:
        """Payload per present device at model time ``ts_ms`` (POSIX ms). Units: V, A, W,
        cumulative Wh since the source's start, SoC 0..1."""
        point = self.source.locate(ts_ms / 1000.0)
        t, idx = point.trace, point.index
        ts = iso_ms(ts_ms)
        load = float(t.load_w[idx])
        mains = float(t.mains_v[idx])
        e_wh = self.source.meter_wh(ts_ms / 1000.0)
        out: list[tuple[Device, Payload]] = [
            (
                Device.METER,
                {
                    "ts": ts,
                    "v": round(mains, 1),
                    "i": round(load / mains, 3) if mains > 0 else 0.0,
                    "p": round(load, 1),
                    "e_wh": max(0, math.floor(e_wh)),
                    "p_grid": round(float(t.grid_w[idx]), 1),
                },
            )
        ]
        if Device.PV in self.devices:
            out.append(
                (
                    Device.PV,
                    {
                        "ts": ts,
                        "v": round(float(t.pv_v[idx]), 1),
                        "i": round(float(t.pv_i[idx]), 3),
                        "p": round(float(t.pv_w[idx]), 1),
                    },
                )
            )
        if Device.BESS in self.devices:
            bv, bw = float(t.bess_v[idx]), float(t.bess_w[idx])
            out.append(
                (
                    Device.BESS,
                    {
                        "ts": ts,
                        "v": round(bv, 2),
                        "i": round(bw / bv, 3) if bv > 0 else 0.0,
                        "p": round(bw, 1),
                        "soc": round(float(t.soc[idx]), 4),
                    },
                )
            )
        if Device.EV in self.devices and t.ev_w is not None and t.ev_soc is not None:
            out.append(
                (
                    Device.EV,
                    {
                        "ts": ts,
                        "p": round(float(t.ev_w[idx]), 1),
                        "soc": round(float(t.ev_soc[idx]), 4),
                    },
                )
            )
        return out


class SensorNode:
    """The sensor nodes of one house — or of several (a simulated neighbourhood's nodes
    behind one gateway, for big communities) — publishing every ``rate_s`` model seconds
    at QoS 1 over one persistent MQTT session.

    Readings are stamped on a grid of ``rate_s`` (multiples of ``rate_s`` since the epoch),
    so (house, device, ts) is unique. If the node falls behind the clock by more than one
    step it skips to the latest due step (counted in ``skipped``).

    Args:
        trace: one house's flows, or a sequence of houses' flows (unique house ids).
        client_id: MQTT client id (default from the community and the first house).
    """

    def __init__(
        self,
        community: str,
        trace: HouseTrace | TraceSource | Sequence[HouseTrace | TraceSource],
        broker: BrokerAddress,
        clock: Clock,
        rate_s: float = 1.0,
        client_id: str | None = None,
    ) -> None:
        if rate_s < 0.001:
            raise ValueError(f"rate_s must be >= 0.001 model seconds, got {rate_s}")
        traces = list(trace) if isinstance(trace, Sequence) else [trace]
        if not traces:
            raise ValueError("a sensor node needs at least one house")
        self.community = check_name(community, "community")
        self.houses = [check_name(t.house, "house") for t in traces]
        if len(set(self.houses)) != len(self.houses):
            raise ValueError(f"duplicate house ids: {self.houses}")
        self.house = self.houses[0]
        self.samplers = [TraceSampler(t) for t in traces]
        self.sampler = self.samplers[0]
        self.clock = clock
        self.rate_ms = round(rate_s * 1000)
        self.published = 0
        self.published_by = dict.fromkeys(self.houses, 0)
        """Messages published per house."""
        self.acked = 0
        self.skipped = 0
        self._period: dict[str, int] = {}
        self._topics = {(h, d): reading_topic(community, h, d) for h in self.houses for d in Device}
        self.mqtt = MqttClient(client_id or f"gp-{community}-{self.house}-sensor", broker)
        self.mqtt.paho.on_publish = self._on_publish

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        self.acked += 1

    @property
    def pending(self) -> int:
        """Messages published but not yet acknowledged by the broker."""
        return self.published - self.acked

    def publish_at(self, ts_ms: int) -> int:
        """Publish every house's every device's reading at model time ``ts_ms``; returns
        messages queued."""
        n = 0
        for house, sampler in zip(self.houses, self.samplers, strict=True):
            k = 0
            for device, payload in sampler.readings(ts_ms):
                self.mqtt.paho.publish(self._topics[house, device], encode(payload), qos=QOS)
                k += 1
            self.published_by[house] += k
            n += k
        self.published += n
        return n

    async def _prepare(self, ts_ms: int) -> None:
        """Simulate a new day of the houses off the event loop (once a model day)."""
        for house, sampler in zip(self.houses, self.samplers, strict=True):
            source = sampler.source
            k = source.index(ts_ms / 1000.0)
            if k != self._period.get(house):
                await asyncio.to_thread(source.locate, ts_ms / 1000.0)
                await asyncio.to_thread(source.meter_wh, ts_ms / 1000.0)
                self._period[house] = k

    def _now_ms(self) -> int:
        return math.floor(self.clock.timestamp() * 1000)

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, publish until ``stop`` is set, wait (up to 10 s) for outstanding acks,
        then disconnect."""
        await asyncio.to_thread(self.mqtt.start)
        try:
            next_ms = -(-self._now_ms() // self.rate_ms) * self.rate_ms
            while not stop.is_set():
                now_ms = self._now_ms()
                if now_ms < next_ms:
                    wall = self.clock.wall_seconds((next_ms - now_ms) / 1000.0)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=max(wall, 0.0005))
                    continue
                latest = now_ms // self.rate_ms * self.rate_ms
                if latest > next_ms:
                    self.skipped += (latest - next_ms) // self.rate_ms
                    next_ms = latest
                await self._prepare(next_ms)
                self.publish_at(next_ms)
                next_ms += self.rate_ms
            await self.drain()
        finally:
            await asyncio.to_thread(self.mqtt.stop)

    async def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until every published message is acknowledged; ``False`` on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.pending > 0 and loop.time() < deadline:
            await asyncio.sleep(0.02)
        return self.pending == 0
