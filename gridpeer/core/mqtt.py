"""A small MQTT link (paho, MQTT 3.1.1) for the oracle and the home agents.

Persistent session (``clean_session=False``, fixed client id), QoS 1 subscriptions that
are renewed on every (re)connect, automatic reconnection. ``on_message`` runs in paho's
network thread; paho acknowledges a QoS 1 message only after it returns, so whatever the
handler stores before returning is never lost.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]


class MqttLink:
    """One client connection.

    Args:
        host: broker host (e.g. ``127.0.0.1``).
        port: broker TCP port.
        client_id: stable id; the broker keeps the session (and queued QoS 1 messages)
            under it while the client is away.
        subscriptions: topic filters subscribed with QoS 1 on every connect.
        on_message: ``handler(topic, payload)``; exceptions are logged, never raised.
        username: optional broker user; password: its password.
    """

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        subscriptions: Sequence[str] = (),
        on_message: Handler | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.subscriptions = list(subscriptions)
        self._handler = on_message
        self.connected = threading.Event()
        self.connects = 0
        self._stopping = False
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.warning("MQTT connect to %s:%s refused: %s", self.host, self.port, rc)
            return
        self.connects += 1
        if self.subscriptions:
            client.subscribe([(s, 1) for s in self.subscriptions])
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connected.clear()
        if self._stopping:  # our own stop(): nothing to report
            return
        log.info("MQTT disconnected from %s:%s (%s); reconnecting", self.host, self.port, rc)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if self._handler is None:
            return
        try:
            self._handler(str(msg.topic), bytes(msg.payload))
        except Exception:
            log.exception("MQTT handler failed for %s", msg.topic)

    def start(self, wait_s: float = 10.0) -> None:
        """Connect (retrying in the background) and wait up to ``wait_s`` for the session."""
        self._client.connect_async(self.host, self.port, keepalive=5)
        self._client.loop_start()
        self.connected.wait(wait_s)

    def publish(
        self, topic: str, payload: bytes | str, retain: bool = False, timeout: float = 5.0
    ) -> bool:
        """Publish with QoS 1; True once the broker acknowledged it within ``timeout`` s."""
        try:
            info = self._client.publish(topic, payload, qos=1, retain=retain)
            info.wait_for_publish(timeout)
            return bool(info.is_published())
        except (RuntimeError, ValueError) as exc:
            log.warning("MQTT publish to %s failed: %s", topic, exc)
            return False

    def stop(self) -> None:
        """Disconnect cleanly and stop the network thread."""
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()


def mqtt_credentials(user: str | None) -> tuple[str, str] | None:
    """(user, password from the environment variable ``GRIDPEER_MQTT_PASSWORD``), or None
    for an anonymous broker. Passwords never go on the command line."""
    if user is None:
        return None
    password = os.environ.get("GRIDPEER_MQTT_PASSWORD")
    if not password:
        raise SystemExit("--mqtt-user needs the password in GRIDPEER_MQTT_PASSWORD")
    return user, password
