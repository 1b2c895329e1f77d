"""MQTT I/O for the device adapters: a house's devices on the broker, on a connection of
their own or on a :class:`~gridpeer.telemetry.adapters.session.DeviceSession` shared with
other houses (one session for a whole group of houses: same semantics per house).

:class:`DeviceBridge` subscribes to every configured device's topics, feeds each
message to that device's pure adapter (:mod:`.tasmota`, :mod:`.shelly`), keeps the
latest reading per channel and the relay states the devices confirmed (forgotten when
a device goes offline: it reboots with its relays in their power-on state), counts every
rejection by reason, and — for the ``house`` device — republishes its readings as
gridpeer meter readings (``gridpeer/<community>/<house>/meter/reading``) so the house's
agent stores them like any other telemetry. When a relay is metered by ``telemetry`` it
also follows those meter readings (validated like all telemetry, rejections counted).
Relay commands go out with QoS 1.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gridpeer.core.mqtt import BrokerAddress, MqttClient, MqttTls
from gridpeer.telemetry.adapters.config import DeviceConfig
from gridpeer.telemetry.adapters.readings import AdapterReject, ChannelReading, RejectCounts
from gridpeer.telemetry.adapters.session import DeviceSession
from gridpeer.telemetry.adapters.shelly import ShellyAdapter
from gridpeer.telemetry.adapters.tasmota import TasmotaAdapter
from gridpeer.telemetry.schemas import Device
from gridpeer.telemetry.topics import reading_topic
from gridpeer.telemetry.validate import Rejected, validate_message

log = logging.getLogger(__name__)

STATUS_RETRY_S = 5.0
"""Wall seconds between two ``Shelly.GetStatus`` requests to one device."""


@dataclass(frozen=True)
class Seen:
    """A reading and the wall-clock (``time.monotonic``) second it arrived."""

    reading: ChannelReading
    at: float


class DeviceBridge:
    """The devices of one house on one MQTT connection (its own, or ``session``).

    Args:
        host, port: the broker (unused with ``session``).
        devices: the house's devices.
        client_id: MQTT client id; also the Shelly RPC ``src`` (answers on ``<id>/rpc``).
            With ``session``: the session's client id (use :meth:`on_session`).
        community, house: with both, the ``house`` device's readings are republished as
            gridpeer meter readings.
        credentials: MQTT (user, password).
        tls: TLS to the broker (its certificate verified), None for plain TCP.
        on_reading: optional hook called with each new reading (paho's thread).
        session: share this MQTT session with other houses' bridges instead of opening
            a connection; it connects with its first started bridge and disconnects with
            its last stopped one.
    """

    def __init__(
        self,
        host: str,
        port: int,
        devices: Sequence[DeviceConfig],
        client_id: str,
        community: str | None = None,
        house: str | None = None,
        credentials: tuple[str, str] | None = None,
        tls: MqttTls | None = None,
        on_reading: Callable[[DeviceConfig, ChannelReading], None] | None = None,
        session: DeviceSession | None = None,
    ) -> None:
        if session is not None and client_id != session.client_id:
            raise ValueError("a bridge on a shared session uses the session's client id")
        self.session = session
        self._joined = False
        self.devices = list(devices)
        self.community, self.house = community, house
        self.on_reading = on_reading
        self.adapters: dict[str, TasmotaAdapter | ShellyAdapter] = {
            d.topic: d.adapter(client_id) for d in self.devices
        }
        self._configs: dict[str, list[DeviceConfig]] = {}
        for d in self.devices:  # one device may serve several roles (meter and relay)
            self._configs.setdefault(d.topic, []).append(d)
        self.counts: dict[str, RejectCounts] = {d.topic: RejectCounts() for d in self.devices}
        self.latest: dict[tuple[str, int], Seen] = {}
        self.relayed: dict[tuple[str, int], tuple[bool, float]] = {}
        """Confirmed relay state per (device, channel) and when it was confirmed."""
        self.republished = 0
        self.unrouted = 0
        self._rpc_topic = f"{client_id}/rpc"
        self._status_asked: dict[str, float] = {}
        self._lock = threading.Lock()
        subs = [s for a in self.adapters.values() for s in a.subscriptions()]
        self._meter_topic: str | None = None
        self.grid: tuple[float, float] | None = None
        """The house's last net grid power (W, + import) and when it came (monotonic s)."""
        self.telemetry_counts = RejectCounts()
        telemetry = any(d.meter == "telemetry" for d in self.devices)
        if telemetry and community is not None and house is not None:
            self._meter_topic = reading_topic(community, house, Device.METER)
            subs.append(self._meter_topic)
        self._subscriptions = sorted(set(subs))
        if session is not None:
            self.link = session.link
            return
        self.link = MqttClient(
            client_id,
            BrokerAddress(host, port, tls=tls).with_credentials(credentials),
            subscriptions=self._subscriptions,
            on_message=self._on_message,
        )

    @classmethod
    def on_session(
        cls,
        session: DeviceSession,
        devices: Sequence[DeviceConfig],
        community: str | None = None,
        house: str | None = None,
        on_reading: Callable[[DeviceConfig, ChannelReading], None] | None = None,
    ) -> DeviceBridge:
        """A house's bridge on the shared ``session`` (attached to it at once: a device
        another house of the session holds raises :class:`ValueError`)."""
        bridge = cls(
            session.link.broker.host,
            session.link.broker.port,
            devices,
            session.client_id,
            community,
            house,
            on_reading=on_reading,
            session=session,
        )
        bridge._attach()
        return bridge

    def _attach(self) -> None:
        assert self.session is not None
        shellies = [a.prefix for a in self.adapters.values() if isinstance(a, ShellyAdapter)]
        self.session.attach(self._on_message, self._subscriptions, shellies)

    def _route(self, topic: str, payload: bytes) -> TasmotaAdapter | ShellyAdapter | None:
        if topic == self._rpc_topic:  # every Shelly answers here: pick it by ``src``
            try:
                src = json.loads(payload).get("src")
            except (ValueError, AttributeError):
                src = None
            adapter = self.adapters.get(src) if isinstance(src, str) else None
            return adapter if isinstance(adapter, ShellyAdapter) else None
        for a in self.adapters.values():
            if topic in a.subscriptions() or (
                isinstance(a, ShellyAdapter) and topic.startswith(f"{a.prefix}/status/")
            ):
                return a
        return None

    def _on_meter(self, payload: bytes) -> None:
        """A gridpeer meter reading of the house (validated like all telemetry)."""
        assert self._meter_topic is not None and self.community is not None
        counts = self.telemetry_counts
        counts.received += 1
        sample = validate_message(self._meter_topic, payload, self.community, self.house)
        if isinstance(sample, Rejected):
            counts.rejected[sample.reason.value] += 1
            log.warning("house meter reading rejected: %s", sample.detail)
            return
        counts.accepted += 1
        if sample.p_grid is not None:
            with self._lock:
                self.grid = (sample.p_grid, time.monotonic())

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self._meter_topic:
            self._on_meter(payload)
            return
        adapter = self._route(topic, payload)
        if adapter is None:
            self.unrouted += 1  # an answer from no configured device (or not JSON)
            return
        name = adapter.topic if isinstance(adapter, TasmotaAdapter) else adapter.prefix
        now = time.monotonic()
        with self._lock:
            counts = self.counts[name]
            counts.received += 1
            update = adapter.handle(topic, payload, datetime.now(UTC))
            if update.rejection is not None:
                counts.reject(update.rejection)
                n = counts.rejected[update.rejection.reason.value]
                if n <= 5 or n % 100 == 0:
                    log.warning("rejected (%d): %s", n, update.rejection.detail)
                ask = update.rejection.reason is AdapterReject.NO_BASE
            else:
                counts.accepted += 1
                ask = False
            if update.online is False:  # it reboots: a relay state it confirmed is void
                for key in [k for k in self.relayed if k[0] == name]:
                    del self.relayed[key]
            for ch, on in update.relays.items():
                self.relayed[(name, ch)] = (on, now)
            for r in update.readings:
                self.latest[(name, r.channel)] = Seen(r, now)
        if ask:
            self.request_status(name)
        for config in self._configs[name]:
            for r in update.readings:
                if self.on_reading is not None:
                    self.on_reading(config, r)
                if config.role == "house" and r.channel == config.channel:
                    self._republish(r)

    def _republish(self, r: ChannelReading) -> None:
        if self.community is None or self.house is None:
            return
        try:
            body = r.meter_reading().model_dump_json()
        except ValueError as exc:
            log.warning("%s: not republished: %s", r.device, exc)
            return
        topic = reading_topic(self.community, self.house, Device.METER)
        self.link.publish(topic, body, timeout=0)  # queued; paho's thread sends it
        self.republished += 1

    def request_status(self, device: str) -> None:
        """Ask a Shelly for its full status (at most every ``STATUS_RETRY_S`` s)."""
        adapter = self.adapters.get(device)
        if not isinstance(adapter, ShellyAdapter):
            return
        now = time.monotonic()
        with self._lock:
            if now - self._status_asked.get(device, -1e9) < STATUS_RETRY_S:
                return
            self._status_asked[device] = now
            topic, body = adapter.status_request()
        self.link.publish(topic, body, timeout=0)

    def set_relay(self, device: str, channel: int, on: bool, wait_s: float = 0.0) -> bool:
        """Send the command that switches relay ``channel`` of ``device`` (QoS 1); the
        device's confirmation shows up in :attr:`relayed`. With ``wait_s`` > 0 (never
        from an MQTT callback) wait that long for the broker's acknowledgement; True
        once acknowledged."""
        with self._lock:
            topic, body = self.adapters[device].relay_command(channel, on)
        return self.link.publish(topic, body, timeout=wait_s)

    def reading(self, device: str, channel: int) -> Seen | None:
        """The latest reading of a channel, or None."""
        with self._lock:
            return self.latest.get((device, channel))

    def relay(self, device: str, channel: int) -> tuple[bool, float] | None:
        """The last confirmed state of a relay and when it came (monotonic s), or None."""
        with self._lock:
            return self.relayed.get((device, channel))

    def house_grid(self) -> tuple[float, float] | None:
        """The house's last net grid power (W, + import) and its arrival (monotonic s)."""
        with self._lock:
            return self.grid

    def online(self, device: str) -> bool | None:
        """The device's last availability message (None: none seen yet)."""
        return self.adapters[device].online

    def start(self, wait_s: float = 10.0) -> None:
        """Connect (or join the shared session), then ask every Shelly for its full
        status."""
        if self.session is not None:
            if not self._joined:
                self._attach()  # again, after a stop
                self.session.acquire(wait_s)
                self._joined = True
        else:
            self.link.start(wait_s)
        for name, adapter in self.adapters.items():
            if isinstance(adapter, ShellyAdapter):
                self.request_status(name)

    def stop(self) -> None:
        """Disconnect (on a shared session: receive nothing more, and leave it)."""
        if self.session is not None:
            if self._joined:
                self._joined = False
                self.session.detach(self._on_message)
                self.session.release()
        else:
            self.link.stop()
