"""Validation of incoming telemetry: topic + raw payload → a store :class:`Sample`, or a
:class:`Rejected` with a machine-readable reason and a human-readable detail.

Pure: no I/O, no logging; callers log and count the rejections.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import ValidationError

from gridpeer.store.base import Sample
from gridpeer.telemetry.schemas import READING_TYPES, BESSReading, MeterReading, Reading
from gridpeer.telemetry.topics import TopicError, parse_topic

MAX_PAYLOAD_BYTES = 1024
"""Largest accepted payload (bytes); a v1 reading is about 60–110 bytes."""

_RANGE_ERRORS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)


class RejectReason(StrEnum):
    """Why a message was rejected (metric label)."""

    BAD_TOPIC = "bad_topic"
    FOREIGN = "foreign"
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    OUT_OF_RANGE = "out_of_range"


@dataclass(frozen=True)
class Rejected:
    """A rejected message: ``reason`` for metrics, ``detail`` for the log."""

    reason: RejectReason
    detail: str


def to_sample(house: str, reading: Reading) -> Sample:
    """Convert a validated reading into a store sample (units unchanged: V, A, W, Wh, 0..1)."""
    if isinstance(reading, MeterReading):
        return Sample(
            house,
            "meter",
            reading.ts,
            reading.v,
            reading.i,
            reading.p,
            reading.e_wh,
            reading.p_grid,
        )
    if isinstance(reading, BESSReading):
        return Sample(house, "bess", reading.ts, reading.v, reading.i, reading.p, soc=reading.soc)
    return Sample(house, "pv", reading.ts, reading.v, reading.i, reading.p)


def validate_message(
    topic: str, payload: bytes, community: str, house: str | None = None
) -> Sample | Rejected:
    """Validate one MQTT message for ``community`` (and ``house`` if given).

    Returns the :class:`Sample` to store, or :class:`Rejected` — never raises for bad input.
    """
    try:
        parsed = parse_topic(topic)
    except TopicError as exc:
        return Rejected(RejectReason.BAD_TOPIC, str(exc))
    if parsed.community != community or (house is not None and parsed.house != house):
        return Rejected(
            RejectReason.FOREIGN,
            f"topic {topic!r} is not for {community}/{house if house is not None else '*'}",
        )
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejected(
            RejectReason.TOO_LARGE, f"payload of {len(payload)} B > {MAX_PAYLOAD_BYTES} B"
        )
    try:
        reading = READING_TYPES[parsed.device].model_validate_json(payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        reason = (
            RejectReason.OUT_OF_RANGE
            if errors and all(e["type"] in _RANGE_ERRORS for e in errors)
            else RejectReason.MALFORMED
        )
        first = errors[0] if errors else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        return Rejected(reason, f"{parsed.device.value}: {where}: {first['msg']}")
    return to_sample(parsed.house, reading)
