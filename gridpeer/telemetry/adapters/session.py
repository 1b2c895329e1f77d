"""One MQTT session for the device bridges of many houses.

A process that drives hundreds of houses' relays cannot afford an MQTT connection (and
paho's network thread, and a socket) per house: paho's loop uses ``select()``, which
cannot watch a socket numbered 1024 or more, and every thread costs memory. A
:class:`DeviceSession` is one persistent MQTT session that several
:class:`~gridpeer.telemetry.adapters.bridge.DeviceBridge` objects share: each bridge
attaches the topics of its house's devices; every message is routed, by a dictionary
lookup, to the one bridge whose device it concerns:

* exact topics (Tasmota ``tele/<t>/SENSOR``, ``tele/<t>/LWT``, ``stat/<t>/RESULT``;
  Shelly ``<prefix>/events/rpc``, ``<prefix>/online``; the house's gridpeer meter
  topic) by topic;
* one-level wildcards (Shelly ``<prefix>/status/+``) by the topic without its last
  level;
* the session's RPC answer topic ``<client_id>/rpc`` (every Shelly of the session
  answers there) by the answer's ``src``, the device's prefix.

A device belongs to one house of a session: attaching a topic another bridge already
holds raises :class:`ValueError` (a relay has one driver). The session connects when its
first bridge starts and disconnects when its last one stops (reference counted), so each
bridge keeps its own start/stop semantics.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable

from gridpeer.core.mqtt import QOS, BrokerAddress, Handler, MqttClient

log = logging.getLogger(__name__)


class DeviceSession:
    """One MQTT session (one socket, one paho thread) for many houses' devices.

    Args:
        broker: the broker (credentials and TLS included).
        client_id: the session's stable MQTT client id (persistent session); also the
            Shelly RPC ``src``: every Shelly of the session answers on ``<client_id>/rpc``.

    Attributes:
        unrouted: messages that matched no attached device (e.g. after its bridge left).
    """

    def __init__(self, broker: BrokerAddress, client_id: str) -> None:
        self.client_id = client_id
        self.rpc_topic = f"{client_id}/rpc"
        self.link = MqttClient(client_id, broker, on_message=self._dispatch)
        self._exact: dict[str, Handler] = {}
        self._wild: dict[str, Handler] = {}  # "<prefix>/status" of "<prefix>/status/+"
        self._rpc: dict[str, Handler] = {}  # Shelly prefix (answer's src) → handler
        self._lock = threading.Lock()
        self._users = 0
        self.unrouted = 0

    def attach(
        self, handler: Handler, subscriptions: Iterable[str], rpc_sources: Iterable[str] = ()
    ) -> None:
        """Route ``subscriptions`` (exact topics, or ``…/+`` one-level wildcards) and the
        RPC answers from the Shelly prefixes ``rpc_sources`` to ``handler``; subscribe
        at once if the session is already connected.

        Raises:
            ValueError: a topic or source another handler already holds, or a filter
                with a wildcard other than one trailing ``+``.
        """
        subs = sorted(set(subscriptions) - {self.rpc_topic})
        sources = sorted(set(rpc_sources))
        with self._lock:
            routes: list[tuple[dict[str, Handler], str]] = []
            for s in subs:
                head, sep, tail = s.rpartition("/")
                if sep and tail == "+" and "+" not in head and "#" not in head:
                    routes.append((self._wild, head))
                elif "+" in s or "#" in s:
                    raise ValueError(f"unsupported device topic filter {s!r}")
                else:
                    routes.append((self._exact, s))
            routes += [(self._rpc, src) for src in sources]
            for table, key in routes:
                held = table.get(key)
                if held is not None and held != handler:
                    raise ValueError(f"device topic {key!r} is already another house's")
            for table, key in routes:
                table[key] = handler
            new = [s for s in subs if s not in self.link.subscriptions]
            if sources and self.rpc_topic not in self.link.subscriptions:
                new.append(self.rpc_topic)
            self.link.subscriptions.extend(new)
            started = self._users > 0
        if new and started:  # renewed on every reconnect from link.subscriptions
            self.link.paho.subscribe([(s, QOS) for s in new])

    def detach(self, handler: Handler) -> None:
        """Stop routing anything to ``handler`` (the subscriptions stay: the persistent
        session keeps queueing for the house until its bridge comes back)."""
        with self._lock:
            for table in (self._exact, self._wild, self._rpc):
                for key in [k for k, h in table.items() if h == handler]:
                    del table[key]

    def _handler(self, topic: str, payload: bytes) -> Handler | None:
        with self._lock:
            if topic == self.rpc_topic:
                try:
                    src = json.loads(payload).get("src")
                except (ValueError, AttributeError):
                    src = None
                return self._rpc.get(src) if isinstance(src, str) else None
            handler = self._exact.get(topic)
            if handler is None:
                handler = self._wild.get(topic.rpartition("/")[0])
            return handler

    def _dispatch(self, topic: str, payload: bytes) -> None:
        handler = self._handler(topic, payload)
        if handler is None:
            self.unrouted += 1
            return
        handler(topic, payload)

    @property
    def users(self) -> int:
        """Bridges started on the session and not stopped yet."""
        return self._users

    def acquire(self, wait_s: float = 10.0) -> None:
        """One more bridge uses the session: the first one connects it.

        Raises:
            ConnectionError: the first connection failed (see :meth:`MqttClient.start`).
        """
        with self._lock:
            first = self._users == 0
            self._users += 1
        if not first:  # connected (or connecting, by another thread)
            self.link.connected.wait(wait_s)
            return
        try:
            self.link.start(wait_s)
        except BaseException:
            with self._lock:
                self._users -= 1
            raise

    def release(self) -> None:
        """One bridge less: the last one disconnects the session."""
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            last = self._users == 0
        if last:
            self.link.stop()
