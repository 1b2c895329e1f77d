"""The one MQTT client of gridpeer (paho-mqtt, MQTT 3.1.1), for sensor nodes, home agents,
the oracle and benchmarks.

One policy for all of them:

* **keep-alive** :data:`KEEPALIVE_S` seconds, so a dead broker or link is noticed within
  about 1.5× that; reconnection in the background every 1–2 s, for ever;
* **persistent sessions** by default (``clean_session=False`` under a stable client id): the
  broker keeps subscriptions and queues QoS 1 messages while the client is away;
* **subscriptions** given at construction are renewed (QoS 1) on every (re)connect;
* **start-up fails loudly**: :meth:`MqttClient.start` raises :class:`ConnectionError`
  naming the broker and the reason (refused credentials, nothing listening) when the first
  connection does not succeed in time. After that, outages are reconnected silently
  (one log line each).

``on_message`` handlers run in paho's network thread. paho acknowledges a QoS 1 message
when the handler returns, so whatever the handler stores before returning is never lost;
with ``manual_ack`` the owner acknowledges with ``client.paho.ack(mid, 1)`` itself (after a
batch is stored).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)

QOS = 1
"""The system's QoS: at least once; receivers deduplicate (store key, trade id)."""
KEEPALIVE_S = 10
"""MQTT keep-alive of every gridpeer client, seconds."""

Handler = Callable[[str, bytes], None]


@dataclass(frozen=True)
class MqttTls:
    """TLS to the broker: the client always verifies the broker's certificate (chain and
    host name); ``ca_file`` is the PEM CA that signed it (``gridpeer broker-config`` writes
    ``ca.crt``), ``None`` for the system's trusted CAs. ``cert_file``/``key_file``: this
    client's own certificate, for a broker that requires one."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def context(self) -> ssl.SSLContext:
        """An SSL context verifying the server (TLS ≥ 1.2, host name checked).

        Raises:
            OSError: a file is missing or unreadable; ssl.SSLError: not a PEM certificate.
        """
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file is not None:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


@dataclass(frozen=True)
class BrokerAddress:
    """Where an MQTT broker listens, the credentials to use (``None`` = anonymous) and
    TLS (``None`` = plain TCP)."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: MqttTls | None = None

    def as_user(self, username: str, password: str) -> BrokerAddress:
        """The same broker (and TLS) with other credentials."""
        return dataclasses.replace(self, username=username, password=password)

    def with_credentials(self, credentials: tuple[str, str] | None) -> BrokerAddress:
        """The same broker with ``(user, password)``, unchanged for ``None``."""
        return self if credentials is None else self.as_user(*credentials)


class MqttClient:
    """One client connection with its network loop in a background thread.

    Args:
        client_id: stable id; with a persistent session the broker keeps the session (and
            queued QoS 1 messages) under it while the client is away.
        broker: address and credentials.
        subscriptions: topic filters subscribed with QoS 1 on every connect.
        on_message: ``handler(topic, payload)``; its exceptions are logged, never raised.
        clean_session: ``False`` (default) for a persistent session.
        manual_ack: acknowledge received QoS 1 messages only through ``paho.ack``.

    Attributes:
        connected: set while connected (cleared on every disconnect).
        connects: successful connections so far (1 after start, +1 per reconnection).
        paho: the underlying paho client, for hot paths (raw publish, manual acks).
    """

    def __init__(
        self,
        client_id: str,
        broker: BrokerAddress,
        *,
        subscriptions: Sequence[str] = (),
        on_message: Handler | None = None,
        clean_session: bool = False,
        manual_ack: bool = False,
    ) -> None:
        self.broker = broker
        self.subscriptions = list(subscriptions)
        self._handler = on_message
        self.connected = threading.Event()
        self.connects = 0
        self.connect_error: str | None = None
        self._stopping = False
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
            manual_ack=manual_ack,
        )
        if broker.username is not None:
            self.paho.username_pw_set(broker.username, broker.password)
        if broker.tls is not None:  # verifies the broker's certificate and host name
            self.paho.tls_set_context(broker.tls.context())
        self.paho.reconnect_delay_set(min_delay=1, max_delay=2)
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = self._on_disconnect
        if on_message is not None:
            self.paho.on_message = self._on_message

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self.connect_error = str(rc)
            log.warning("MQTT connect to %s refused: %s", self._where(), rc)
            return
        self.connect_error = None
        self.connects += 1
        if self.subscriptions:
            client.subscribe([(s, QOS) for s in self.subscriptions])
        self.on_connected()
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._stopping:  # our own stop() is nothing to report
            log.info("MQTT disconnected from %s (%s); reconnecting", self._where(), rc)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        assert self._handler is not None
        try:
            self._handler(str(msg.topic), bytes(msg.payload))
        except Exception:
            log.exception("MQTT handler failed for %s", msg.topic)

    def _where(self) -> str:
        tls = " (TLS)" if self.broker.tls is not None else ""
        return f"{self.broker.host}:{self.broker.port}{tls}"

    def _tls_failure(self) -> str | None:
        """Why a TLS handshake with the broker fails (e.g. its certificate is not signed by
        ``ca_file``), or None (no TLS, or the handshake succeeds)."""
        if self.broker.tls is None:
            return None
        import socket

        try:
            with (
                socket.create_connection((self.broker.host, self.broker.port), timeout=3) as raw,
                self.broker.tls.context().wrap_socket(raw, server_hostname=self.broker.host),
            ):
                return None
        except (OSError, ssl.SSLError) as exc:
            return f"TLS: {exc}"

    def on_connected(self) -> None:
        """Hook run in the network thread after each successful connection."""

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect and start the network thread; wait up to ``timeout_s`` for the first
        connection.

        Raises:
            ConnectionError: no connection within ``timeout_s`` (nothing listening, or the
                broker refused the credentials); the network thread is stopped.
        """
        self._stopping = False
        self.paho.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE_S)
        self.paho.loop_start()
        if not self.connected.wait(timeout_s):
            self.stop()
            why = self.connect_error or self._tls_failure() or f"no answer within {timeout_s:g} s"
            raise ConnectionError(
                f"MQTT broker {self._where()} refused or unreachable: {why} "
                "(check mqtt.host, mqtt.port, the credentials and, with TLS, mqtt.ca_file)"
            )

    def publish(
        self, topic: str, payload: bytes | str, retain: bool = False, timeout: float = 5.0
    ) -> bool:
        """Publish with QoS 1; True once the broker acknowledged it within ``timeout`` s."""
        try:
            info = self.paho.publish(topic, payload, qos=QOS, retain=retain)
            info.wait_for_publish(timeout)
            return bool(info.is_published())
        except (RuntimeError, ValueError) as exc:
            log.warning("MQTT publish to %s failed: %s", topic, exc)
            return False

    def publish_many(
        self, messages: Sequence[tuple[str, bytes | str, bool]], timeout: float = 5.0
    ) -> list[bool]:
        """Publish ``(topic, payload, retain)`` messages with QoS 1 all at once, then wait
        for the broker's acknowledgements (``timeout`` s in all); True per acknowledged
        message. One round trip's wait for the lot instead of one per message."""
        infos: list[Any] = []
        for topic, payload, retain in messages:
            try:
                infos.append(self.paho.publish(topic, payload, qos=QOS, retain=retain))
            except (RuntimeError, ValueError) as exc:
                log.warning("MQTT publish to %s failed: %s", topic, exc)
                infos.append(None)
        deadline = time.monotonic() + timeout
        acked: list[bool] = []
        for info in infos:
            if info is None:
                acked.append(False)
                continue
            try:
                info.wait_for_publish(max(deadline - time.monotonic(), 0.0))
                acked.append(bool(info.is_published()))
            except (RuntimeError, ValueError):
                acked.append(False)
        return acked

    def stop(self) -> None:
        """Disconnect cleanly and join the network thread."""
        self._stopping = True
        self.paho.disconnect()
        self.paho.loop_stop()
        self.connected.clear()


def mqtt_credentials(user: str | None) -> tuple[str, str] | None:
    """(user, password from the environment variable ``GRIDPEER_MQTT_PASSWORD``), or None
    for an anonymous broker. Passwords never go on the command line."""
    if user is None:
        return None
    password = os.environ.get("GRIDPEER_MQTT_PASSWORD")
    if not password:
        raise SystemExit("--mqtt-user needs the password in GRIDPEER_MQTT_PASSWORD")
    return user, password


def mqtt_tls(
    tls: bool, ca_file: str | None, cert_file: str | None = None, key_file: str | None = None
) -> MqttTls | None:
    """TLS settings from the command-line options ``--mqtt-tls``, ``--mqtt-ca``,
    ``--mqtt-cert``, ``--mqtt-key`` (a CA or a certificate implies TLS); None = plain TCP.

    Raises:
        SystemExit: a certificate without its key, or a file that does not exist.
    """
    if not (tls or ca_file or cert_file or key_file):
        return None
    if (cert_file is None) != (key_file is None):
        raise SystemExit("--mqtt-cert and --mqtt-key go together")
    for f in (ca_file, cert_file, key_file):
        if f is not None and not os.path.isfile(f):
            raise SystemExit(f"MQTT TLS file not found: {f}")
    return MqttTls(ca_file, cert_file, key_file)
