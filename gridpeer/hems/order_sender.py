"""Hands the houses' signed orders to the coordinator's MQTT intake (centralized and
hybrid markets): each order in the wire format (:mod:`gridpeer.chain.order_wire`) at
QoS 1 on ``gridpeer/<community>/orders/<house>``. The coordinator's answers on
``…/<house>/ack`` are kept per house and logged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from gridpeer.chain import order_wire
from gridpeer.chain.types import SignedOrder
from gridpeer.core.mqtt import BrokerAddress, MqttClient
from gridpeer.telemetry.order_topics import ack_topic, order_topic

log = logging.getLogger(__name__)


class OrderSender:
    """Publishes signed orders for the houses of ``community`` through ``client``.

    Attributes:
        acks: the coordinator's last answer (raw payload) per house.
    """

    def __init__(self, client: MqttClient, community: str, timeout_s: float = 5.0) -> None:
        self.client, self.community, self.timeout_s = client, community, timeout_s
        self.acks: dict[str, bytes] = {}

    def __call__(self, house: str, signed: SignedOrder) -> None:
        """Publish ``signed`` for ``house``; returns once the broker has it (QoS 1).

        Raises:
            ConnectionError: the broker did not acknowledge within ``timeout_s``.
        """
        topic = order_topic(self.community, house)
        if not self.client.publish(topic, order_wire.encode(signed), timeout=self.timeout_s):
            raise ConnectionError(f"order of {house} not acknowledged by the broker on {topic}")

    def on_ack(self, topic: str, payload: bytes) -> None:
        """Keep and log the coordinator's answer to a house's order."""
        house = topic.split("/")[-2]
        self.acks[house] = payload
        log.info("coordinator's answer to %s: %s", house, payload.decode(errors="replace"))


@contextlib.asynccontextmanager
async def mqtt_order_sender(
    broker: BrokerAddress, community: str, houses: list[str]
) -> AsyncIterator[OrderSender]:
    """An :class:`OrderSender` on its own MQTT connection, subscribed to the acks of
    ``houses``, until exit."""
    holder: list[OrderSender] = []
    client = MqttClient(
        f"gridpeer-{community}-order-sender",
        broker,
        subscriptions=[ack_topic(community, h) for h in houses],
        on_message=lambda t, p: holder[0].on_ack(t, p),
        clean_session=True,
    )
    sender = OrderSender(client, community)
    holder.append(sender)
    await asyncio.to_thread(client.start)
    try:
        yield sender
    finally:
        client.stop()
