"""Signed orders over MQTT: a house publishes ``{"order": …, "signature": "0x…"}`` (the
body of ``POST /api/orders``) on ``gridpeer/<community>/orders/<house>`` (QoS 1) and gets
the answer on ``gridpeer/<community>/orders/<house>/ack``:

* ``{"id": "0x…", "state": "accepted"}`` once the order is stored, or
* ``{"status": 400|409|422, "detail": "<reason>"}`` (same statuses and reasons as HTTP).

An order must be published on its maker's own topic (with the broker's ACLs, only the
house can publish there). The session is persistent, so orders published while the
coordinator is down are delivered when it is back.
"""

from __future__ import annotations

import json
import logging
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
            on_message=self.handle,
        )

    def start(self) -> None:
        """Connect and subscribe. Raises ConnectionError when the broker is unreachable."""
        self.client.start()

    def stop(self) -> None:
        """Disconnect."""
        self.client.stop()

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

    def handle(self, topic: str, payload: bytes) -> None:
        """MQTT handler: answer on the house's ack topic."""
        house = topic.removeprefix(self.prefix)
        if not topic.startswith(self.prefix) or "/" in house:
            return
        ack = self.answer(house, payload)
        if "detail" in ack:
            log.info("order from %s refused: %s", house, ack["detail"])
        self.client.publish(ack_topic(self.community, house), json.dumps(ack))
