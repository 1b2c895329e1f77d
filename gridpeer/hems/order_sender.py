"""Hands the houses' signed orders to the coordinator's MQTT intake (centralized and
hybrid markets): each order in the wire format (:mod:`gridpeer.chain.order_wire`) at
QoS 1 on ``gridpeer/<community>/orders/<house>``, over a persistent session. The
coordinator's answers on ``…/<house>/ack`` are kept per house and logged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import paho.mqtt.client as mqtt

from gridpeer.chain import order_wire
from gridpeer.chain.types import SignedOrder
from gridpeer.core.mqtt import QOS, BrokerAddress, MqttClient
from gridpeer.telemetry.order_topics import ack_topic, order_topic

log = logging.getLogger(__name__)


class OrderSender:
    """Publishes signed orders for the houses of ``community`` through ``client``.

    Attributes:
        acks: the coordinator's last answer (raw payload) per house.
    """

    def __init__(self, client: MqttClient, community: str) -> None:
        self.client, self.community = client, community
        self.acks: dict[str, bytes] = {}

    def __call__(self, house: str, signed: SignedOrder) -> None:
        """Queue ``signed`` for ``house`` at QoS 1 and return at once: the network thread
        sends it, and again after a reconnection until the broker has it (the session is
        persistent); the coordinator answers a repeat with 409 and stores it once. An agent
        calls this while holding the chain lock, which the coordinator's intake may need
        to answer: waiting here for the broker would stall both.

        Raises:
            ConnectionError: paho refused to queue the message (e.g. its queue is full).
        """
        topic = order_topic(self.community, house)
        info = self.client.paho.publish(topic, order_wire.encode(signed), qos=QOS)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise ConnectionError(f"order of {house} not queued on {topic}: {info.rc}")

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
    )
    sender = OrderSender(client, community)
    holder.append(sender)
    await asyncio.to_thread(client.start)
    try:
        yield sender
    finally:
        client.stop()
