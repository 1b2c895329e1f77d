"""Validation of incoming telemetry: topic + raw payload → a store :class:`Sample`, or a
:class:`Rejected` with a machine-readable reason and a human-readable detail.

Pure: no I/O, no logging; callers log and count the rejections.

Plausibility of time: given the model clock's ``now``, a reading stamped outside
``[now - window.past, now + window.future]`` (default 7 days back, 10 minutes ahead) is
rejected as ``implausible_time``. A reading dated 9999-12-31 would otherwise stay the
"latest" value for ever and, with retention on, make the store delete everything older
than 9999-12-31 minus the retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import ValidationError

from gridpeer.store.base import Sample
from gridpeer.telemetry.schemas import (
    READING_TYPES,
    BESSReading,
    EVReading,
    MeterReading,
    Reading,
)
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
    IMPLAUSIBLE_TIME = "implausible_time"


@dataclass(frozen=True)
class TimeWindow:
    """Accepted reading times around the model clock's now: ``past`` back (readings a node
    buffered while offline) and ``future`` ahead (clock skew between node and server)."""

    past: timedelta = timedelta(days=7)
    future: timedelta = timedelta(minutes=10)


DEFAULT_WINDOW = TimeWindow()


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
    if isinstance(reading, EVReading):
        return Sample(house, "ev", reading.ts, p=reading.p, soc=reading.soc)
    return Sample(house, "pv", reading.ts, reading.v, reading.i, reading.p)


def check_time(ts: datetime, now: datetime, window: TimeWindow = DEFAULT_WINDOW) -> str | None:
    """Why ``ts`` is implausible at model time ``now`` (both UTC-aware), or None."""
    if ts < now - window.past:
        return (
            f"ts {ts.isoformat()} is more than {window.past} before the server's {now.isoformat()}"
        )
    if ts > now + window.future:
        return (
            f"ts {ts.isoformat()} is more than {window.future} after the server's {now.isoformat()}"
        )
    return None


def validate_message(
    topic: str,
    payload: bytes,
    community: str,
    house: str | None = None,
    *,
    now: datetime | None = None,
    window: TimeWindow = DEFAULT_WINDOW,
) -> Sample | Rejected:
    """Validate one MQTT message for ``community`` (and ``house`` if given); with ``now``
    (the model clock, UTC-aware) also its time against ``window``.

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
    if now is not None and (why := check_time(reading.ts, now, window)) is not None:
        return Rejected(RejectReason.IMPLAUSIBLE_TIME, f"{parsed.device.value}: {why}")
    return to_sample(parsed.house, reading)
