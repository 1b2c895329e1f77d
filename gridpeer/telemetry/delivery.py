"""Delivery messages between the oracle and the home agents (data contract v1).

Topics (QoS 1):

* ``gridpeer/<community>/<house>/cmd/delivery`` – oracle → agent, :class:`DeliveryCommand`.
* ``gridpeer/<community>/<house>/delivery/result/<trade_id>`` – agent → oracle,
  :class:`DeliveryResult`, published *retained* so the oracle finds it after any restart;
  the oracle clears it (empty retained payload) once the trade is settled.

Units: energy in integer Wh, times UTC-aware datetimes (model time of the clock).
Both messages are idempotent by ``trade_id``: a command seen twice is executed once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gridpeer.telemetry.schemas import TOPIC_ROOT

MESSAGE_VERSION: Literal[1] = 1
_NAME = r"^[A-Za-z0-9_-]{1,32}$"

HouseId = Annotated[str, Field(pattern=_NAME)]
TradeId = Annotated[int, Field(ge=0, lt=2**64)]
WattHours = Annotated[int, Field(ge=0, le=10**9)]


class Direction(StrEnum):
    """Power direction at one house: the seller's OUT relay, the buyer's IN relay."""

    OUT = "out"
    IN = "in"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    return value.astimezone(UTC)


class DeliveryCommand(BaseModel):
    """Oracle → agent: switch the relay of ``direction`` for one trade.

    Attributes:
        v: message version (1).
        trade_id: on-chain trade id (idempotency key).
        house: house that executes the command.
        direction: ``out`` for the seller, ``in`` for the buyer.
        target_wh: energy to deliver, Wh (> 0). The relay opens when it is reached.
        window_start: UTC start of the delivery window (relay closes then).
        window_end: UTC end of the delivery window (relay opens at the latest then).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = MESSAGE_VERSION
    trade_id: TradeId
    house: HouseId
    direction: Direction
    target_wh: Annotated[int, Field(gt=0, le=10**9)]
    window_start: datetime
    window_end: datetime

    _check_start = field_validator("window_start")(_utc)
    _check_end = field_validator("window_end")(_utc)

    @model_validator(mode="after")
    def _window(self) -> DeliveryCommand:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class DeliveryResult(BaseModel):
    """Agent → oracle: what the house's meter measured for one trade.

    Attributes:
        v: message version (1).
        trade_id: on-chain trade id.
        house: reporting house.
        direction: relay that was switched (``out`` seller, ``in`` buyer).
        measured_wh: energy the meter integrated while the relay was closed, Wh (>= 0).
        target_wh: the commanded target, Wh.
        closed_at: UTC time the relay closed (None if it never closed).
        opened_at: UTC time the relay opened again.
        reason: ``target`` (target reached) or ``window_end``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = MESSAGE_VERSION
    trade_id: TradeId
    house: HouseId
    direction: Direction
    measured_wh: WattHours
    target_wh: WattHours
    closed_at: datetime | None
    opened_at: datetime
    reason: Literal["target", "window_end"]

    _check_opened = field_validator("opened_at")(_utc)

    @field_validator("closed_at")
    @classmethod
    def _closed(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _utc(value)


def command_topic(community: str, house: str) -> str:
    """MQTT topic of the delivery commands for ``house``."""
    return f"{TOPIC_ROOT}/{community}/{house}/cmd/delivery"


def result_topic(community: str, house: str, trade_id: int) -> str:
    """MQTT topic (retained) of ``house``'s result for ``trade_id``."""
    return f"{TOPIC_ROOT}/{community}/{house}/delivery/result/{trade_id}"


def result_filter(community: str) -> str:
    """MQTT subscription filter matching every house's delivery results."""
    return f"{TOPIC_ROOT}/{community}/+/delivery/result/+"
