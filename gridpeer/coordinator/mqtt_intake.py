"""Signed orders over MQTT: a house publishes ``{"order": …, "signature": "0x…"}`` (the
body of ``POST /api/orders``) on ``gridpeer/<community>/orders/<house>`` (QoS 1) and gets
the answer on ``gridpeer/<community>/orders/<house>/ack``:

* ``{"id": "0x…", "state": "accepted"}`` once the order is stored, or
* ``{"status": 400|409|422, "detail": "<reason>"}`` (same statuses and reasons as HTTP).

An order must be published on its maker's own topic (with the broker's ACLs, only the
house can publish there). The session is persistent, so orders published while the
coordinator is down are delivered when it is back.

Messages are handled off paho's network thread, one at a time in arrival order, by a
worker thread (checking an order reads the chain and waits for its lock; in the network
thread that stalled every acknowledgement). A message is acknowledged to the broker
(QoS 1 PUBACK, manual) only once its order is stored or refused, so a coordinator that
dies in between gets it again from the broker; a redelivered order that was stored is
answered like the first time (submitting a stored order again is idempotent).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

from gridpeer.coordinator.intake import OrderRejected
from gridpeer.coordinator.service import Coordinator
from gridpeer.coordinator.wire import BadOrder, parse_body
from gridpeer.core.mqtt import BrokerAddress, MqttClient

log = logging.getLogger(__name__)


def orders_topic(community: str, house: str = "+") -> str:
    """Topic a house publishes its signed orders on (``+``: every house)."""
    return f"gridpeer/{community}/orders/{house}"


def ack_topic(community: str, house: str) -> str:
    """Topic the coordinator answers a house's orders on."""
    return f"gridpeer/{community}/orders/{house}/ack"


_Message = tuple[str, bytes, int, int]  # topic, payload, connection number, mid (0: QoS 0)


class MqttIntake:
    """Takes signed orders from MQTT into ``coordinator`` and acknowledges each one."""

    def __init__(self, coordinator: Coordinator, broker: BrokerAddress, community: str) -> None:
        self.coordinator = coordinator
        self.community = community
        self.prefix = f"gridpeer/{community}/orders/"
        self.client = MqttClient(
            f"gridpeer-{community}-coordinator",
            broker,
            subscriptions=[orders_topic(community)],
            manual_ack=True,
        )
        self.client.paho.on_message = self._on_message
        self._inbox: queue.Queue[_Message | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker, connect and subscribe. Raises ConnectionError when the broker
        is unreachable."""
        if self._worker is None:
            self._worker = threading.Thread(
                target=self._work, name=f"{self.community}-mqtt-orders", daemon=True
            )
            self._worker.start()
        try:
            self.client.start()
        except ConnectionError:
            self._join()
            raise

    def stop(self) -> None:
        """Finish the messages already received, then disconnect."""
        self._join()
        self.client.stop()

    def _join(self) -> None:
        if self._worker is not None:
            self._inbox.put(None)
            self._worker.join()
            self._worker = None

    def answer(self, house: str, payload: bytes) -> dict[str, Any]:
        """The acknowledgement of one message from ``house`` (the order stored, or why not)."""
        try:
            body = json.loads(payload)
            signed = parse_body(body)
        except (ValueError, BadOrder) as exc:
            return {"status": 422, "detail": f"not a signed order: {exc}"}
        owner = self.coordinator.houses.get(signed.terms.maker, signed.terms.maker.lower())
        if owner != house:
            return {
                "status": 400,
                "detail": f"an order of {owner} cannot be submitted on {house}'s topic",
            }
        try:
            rec = self.coordinator.accept(signed)
        except OrderRejected as exc:
            return {"status": exc.status, "detail": exc.reason}
        return {"id": rec.id, "state": rec.state}

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        """paho's network thread: queue the message for the worker (nothing else here)."""
        self._inbox.put((str(msg.topic), bytes(msg.payload), self.client.connects, msg.mid))

    def _work(self) -> None:
        while (item := self._inbox.get()) is not None:
            topic, payload, session, mid = item
            try:
                self.handle(topic, payload)
            except Exception:  # store or node down: no PUBACK, redelivered on reconnection
                log.exception("order message on %s not handled", topic)
                continue
            if mid and session == self.client.connects:  # an id is valid in its connection
                self.client.paho.ack(mid, 1)

    def handle(self, topic: str, payload: bytes) -> None:
        """Answer one message on the house's ack topic (after its order is stored)."""
        house = topic.removeprefix(self.prefix)
        if not topic.startswith(self.prefix) or "/" in house:
            return
        ack = self.answer(house, payload)
        if "detail" in ack:
            log.info("order from %s refused: %s", house, ack["detail"])
        self.client.publish(ack_topic(self.community, house), json.dumps(ack))
