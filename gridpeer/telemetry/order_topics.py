"""MQTT topics of the coordinator's order intake (centralized and hybrid markets).

A house publishes its signed order (the wire format of :mod:`gridpeer.chain.order_wire`,
docs/market.md "Wire format") at QoS 1 on ``gridpeer/<community>/orders/<house>``; the
coordinator answers on ``gridpeer/<community>/orders/<house>/ack``.
"""

from __future__ import annotations

from gridpeer.telemetry.schemas import TOPIC_ROOT
from gridpeer.telemetry.topics import check_name


def order_topic(community: str, house: str) -> str:
    """Where ``house`` publishes its signed orders."""
    return f"{TOPIC_ROOT}/{check_name(community, 'community')}/orders/{check_name(house, 'house')}"


def ack_topic(community: str, house: str) -> str:
    """Where the coordinator answers ``house``'s orders (accepted, or refused with why)."""
    return order_topic(community, house) + "/ack"


def order_filter(community: str) -> str:
    """Subscription filter of every house's orders (not the acks)."""
    return f"{TOPIC_ROOT}/{check_name(community, 'community')}/orders/+"


def house_of(topic: str) -> str | None:
    """The house of an order topic, or None when ``topic`` is not one."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != TOPIC_ROOT or parts[2] != "orders":
        return None
    return parts[3]
