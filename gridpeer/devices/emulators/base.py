"""What the emulated devices share: a metered channel behind a relay, and the MQTT
connection with a last will (paho, MQTT 3.1.1, QoS 1), over TLS verifying the broker with
the community's CA when given one (``[mqtt] tls`` / ``ca_file``: ``tls=
settings.mqtt.address().tls``), with the house's MQTT login when given one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gridpeer.core.mqtt import MqttTls

log = logging.getLogger(__name__)

PowerFlow = Callable[[datetime], float]
"""Power the load (or source, if negative) behind a channel draws at a UTC time, W."""


def constant(watts: float) -> PowerFlow:
    """A flow of ``watts`` W at every instant."""
    return lambda _now: watts


def utc_now() -> datetime:
    """Wall-clock UTC time (real devices keep real time)."""
    return datetime.now(UTC)


@dataclass
class Channel:
    """One metered channel behind a relay.

    Attributes:
        flow: power when the relay is closed, W (+ consumed, - returned).
        relay_on: relay state (a channel without relay: always True).
        voltage_v: mains RMS voltage, V.
        power_factor: 0..1 (apparent power = |P| / pf).
        energy_wh: consumed energy counter, Wh.
        returned_wh: returned energy counter, Wh.
    """

    flow: PowerFlow
    relay_on: bool = False
    voltage_v: float = 230.0
    power_factor: float = 0.95
    energy_wh: float = 0.0
    returned_wh: float = 0.0
    power_w: float = 0.0
    _last: datetime | None = field(default=None, repr=False)

    def step(self, now: datetime) -> None:
        """Integrate energy up to ``now`` with the power held since the last step."""
        if self._last is not None:
            dt_h = max(0.0, (now - self._last).total_seconds()) / 3600.0
            if self.power_w >= 0:
                self.energy_wh += self.power_w * dt_h
            else:
                self.returned_wh += -self.power_w * dt_h
        self._last = now
        self.power_w = self.flow(now) if self.relay_on else 0.0

    @property
    def current_a(self) -> float:
        """RMS current, A."""
        return abs(self.power_w) / (self.voltage_v * self.power_factor) if self.power_w else 0.0

    @property
    def apparent_va(self) -> float:
        """Apparent power, VA."""
        return abs(self.power_w) / self.power_factor if self.power_w else 0.0


class DeviceLink:
    """The device's MQTT connection: a last will, QoS 1, a message handler; TLS (the
    broker's certificate verified, ``tls.ca_file`` the community CA) unless ``tls`` is
    None, and ``credentials`` (user, password) unless None (anonymous)."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        will: tuple[str, str],
        subscriptions: list[str],
        on_message: Callable[[str, bytes], None],
        tls: MqttTls | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.connected = threading.Event()
        self._subs = subscriptions
        self._handler = on_message
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        self._client.will_set(will[0], will[1], qos=1, retain=True)
        if tls is not None:
            self._client.tls_set_context(tls.context())
        if credentials is not None:
            self._client.username_pw_set(*credentials)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_: self.connected.clear()
        self._client.on_message = self._on_message
        self.host, self.port = host, port
        self.on_connect: Callable[[], None] | None = None

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            return
        client.subscribe([(s, 1) for s in self._subs])
        if self.on_connect is not None:
            self.on_connect()
        self.connected.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            self._handler(str(msg.topic), bytes(msg.payload))
        except Exception:
            log.exception("emulated device: handler failed for %s", msg.topic)

    def start(self, wait_s: float = 10.0) -> None:
        """Connect and wait for the session."""
        self._client.connect_async(self.host, self.port, keepalive=5)
        self._client.loop_start()
        if not self.connected.wait(wait_s):
            raise TimeoutError(f"emulated device: no MQTT session at {self.host}:{self.port}")

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        """Publish with QoS 1 (queued; paho's network thread sends it)."""
        self._client.publish(topic, payload, qos=1, retain=retain)

    def stop(self) -> None:
        """Disconnect cleanly (no last will)."""
        self._client.disconnect()
        self._client.loop_stop()


class Ticker:
    """Calls ``step()`` every ``period_s`` wall seconds in a daemon thread."""

    def __init__(self, step: Callable[[], None], period_s: float, name: str) -> None:
        self._step, self._period = step, period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self._step()
            except Exception:
                log.exception("emulated device step failed")

    def start(self) -> None:
        """Start stepping."""
        self._thread.start()

    def stop(self) -> None:
        """Stop stepping and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
