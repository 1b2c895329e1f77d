"""MQTT topic scheme (data contract v1): ``gridpeer/<community>/<house>/<device>/<kind>``.

Names (community, house) are 1–32 characters of ``[A-Za-z0-9_-]``; ``device`` is one of
``meter`` | ``pv`` | ``bess`` | ``ev``; telemetry uses ``kind = "reading"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from gridpeer.telemetry.schemas import TOPIC_ROOT, Device

READING = "reading"
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class TopicError(ValueError):
    """A topic that does not follow the scheme."""


def check_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a valid community/house name, else raise :class:`ValueError`."""
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid {what} {name!r}: use 1-32 characters of A-Z a-z 0-9 _ -")
    return name


@dataclass(frozen=True)
class Topic:
    """A parsed telemetry topic."""

    community: str
    house: str
    device: Device
    kind: str = READING

    def __str__(self) -> str:
        return f"{TOPIC_ROOT}/{self.community}/{self.house}/{self.device.value}/{self.kind}"


def reading_topic(community: str, house: str, device: Device) -> str:
    """Topic on which ``device`` of ``house`` publishes its readings."""
    return f"{TOPIC_ROOT}/{community}/{house}/{device.value}/{READING}"


def house_filter(community: str, house: str) -> str:
    """Subscription filter covering every reading of one house."""
    return f"{TOPIC_ROOT}/{community}/{house}/+/{READING}"


@lru_cache(maxsize=65_536)  # topics repeat (houses x devices); only valid ones are cached
def parse_topic(topic: str) -> Topic:
    """Parse a reading topic; raise :class:`TopicError` with the reason if it is not one."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != TOPIC_ROOT:
        raise TopicError(f"topic {topic!r} is not {TOPIC_ROOT}/<community>/<house>/<device>/<kind>")
    _, community, house, device, kind = parts
    if not (_NAME_RE.match(community) and _NAME_RE.match(house)):
        raise TopicError(f"topic {topic!r} has an invalid community or house name")
    try:
        dev = Device(device)
    except ValueError:
        raise TopicError(f"unknown device {device!r} in topic {topic!r}") from None
    if kind != READING:
        raise TopicError(f"unknown message kind {kind!r} in topic {topic!r}")
    return Topic(community, house, dev, kind)
