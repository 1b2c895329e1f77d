"""paho-mqtt client construction shared by sensor nodes, agents and benchmarks."""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gridpeer.telemetry.broker import BrokerAddress

QOS = 1
"""The system's telemetry QoS: at least once; the store deduplicates on (house, device, ts)."""


class ConnectedClient:
    """A paho client running its network loop in a background thread, with a
    ``connected`` event set on every successful (re)connection.

    ``clean_session=False`` gives a persistent session: the broker keeps subscriptions
    and queues QoS-1 messages while the client is away. With ``manual_ack`` received QoS-1
    messages are acknowledged only when the owner calls ``client.ack(mid, 1)``.
    """

    def __init__(
        self,
        client_id: str,
        broker: BrokerAddress,
        *,
        clean_session: bool = False,
        manual_ack: bool = False,
    ):
        self.broker = broker
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
            manual_ack=manual_ack,
        )
        if broker.username is not None:
            self.client.username_pw_set(broker.username, broker.password)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.connect_error: str | None = None

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self.connect_error = str(rc)
            return
        self.connect_error = None
        self.on_connected()
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connected.clear()

    def on_connected(self) -> None:
        """Hook run in the network thread after each successful connection."""

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect (asynchronously) and start the network thread; wait for the first CONNACK."""
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(timeout_s):
            self.stop()
            why = self.connect_error or "no answer"
            raise ConnectionError(
                f"MQTT broker {self.broker.host}:{self.broker.port} refused or unreachable: {why}"
            )

    def stop(self) -> None:
        """Disconnect and join the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()
