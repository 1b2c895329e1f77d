"""The result of one device message, common to all adapters."""

from __future__ import annotations

from dataclasses import dataclass, field

from gridpeer.telemetry.adapters.readings import ChannelReading, Rejection


@dataclass(frozen=True)
class Update:
    """What one device message changed.

    Attributes:
        readings: new channel readings.
        relays: relay states the device confirmed, by channel (True = closed / on).
        online: the device's availability, if the message said.
        rejection: why the message was not used (then nothing else changed).
    """

    readings: tuple[ChannelReading, ...] = ()
    relays: dict[int, bool] = field(default_factory=dict)
    online: bool | None = None
    rejection: Rejection | None = None
