"""A house's devices in the community config: ``[[accounts.devices]]``.

::

    [[accounts]]
    id = "h1"

    [[accounts.devices]]            # the grid connection: feeds the house's meter readings
    kind = "shelly-pro3em"
    topic = "shellypro3em-c8f09e8a1b2c"
    role = "house"

    [[accounts.devices]]            # the P2P line: OUT relay and its meter
    kind = "tasmota"
    topic = "p2p-out-h1"
    role = "out"
    tz = "America/Santiago"         # the plug's Timezone (its Time is local time)

``core.settings`` keeps the entries as plain tables (the core layer cannot import this
one); :func:`house_devices` validates them with :class:`DeviceConfig`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gridpeer.telemetry.adapters.shelly import ShellyAdapter
from gridpeer.telemetry.adapters.tasmota import TasmotaAdapter

DeviceKind = Literal["tasmota", "shelly-plus1pm", "shelly-pro1pm", "shelly-proem", "shelly-pro3em"]
"""Supported device families (see docs/devices.md for the table)."""
Role = Literal["house", "out", "in"]
"""``house``: the house's grid meter (readings on ``gridpeer/<c>/<h>/meter/reading``);
``out`` / ``in``: the delivery relay of that direction, metered by the same device."""

RELAY_KINDS: frozenset[str] = frozenset(
    {"tasmota", "shelly-plus1pm", "shelly-pro1pm", "shelly-proem"}
)
"""Kinds with a relay the delivery agent can switch (the Pro 3EM only meters)."""


class DeviceConfig(BaseModel):
    """One device of a house.

    Attributes:
        kind: device family.
        topic: Tasmota ``Topic``, or the Shelly's MQTT topic prefix.
        role: what the device is for this house.
        channel: the channel metered (and relay switched); 0-based; Pro 3EM: 0 = all
            phases, 1-3 = phases a-c; Pro EM: ``em1:0`` / ``em1:1`` (its one relay,
            ``switch:0``, goes with channel 0).
        tz: Tasmota only: the device's time zone (IANA).
        max_power_w: the largest power the device measures, W.
        invert: the meter counts the delivery as negative power (CT the other way round).
        meter: ``device``: a relay's delivery is metered by this device's channel;
            ``telemetry``: by the house's gridpeer meter readings
            (``gridpeer/<community>/<house>/meter/reading``, ``p_grid``: export for
            ``out``, import for ``in``) — for a relay without metering, with the grid
            connection metered by a Pico W node or a ``house`` device.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DeviceKind
    topic: str = Field(min_length=1, max_length=128, pattern=r"^[^#+/\s]+(/[^#+/\s]+)*$")
    role: Role = "house"
    channel: int = Field(0, ge=0, le=15)
    tz: str = "UTC"
    max_power_w: float = Field(25_000.0, gt=0, le=300_000.0)
    invert: bool = False
    meter: Literal["device", "telemetry"] = "device"

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name") from None
        return value

    @model_validator(mode="after")
    def _fits(self) -> DeviceConfig:
        if self.role != "house" and self.kind not in RELAY_KINDS:
            raise ValueError(f"a {self.kind} has no relay: it cannot be the {self.role} relay")
        if self.kind == "shelly-pro3em" and self.channel > 3:
            raise ValueError("a Pro 3EM has channels 0 (all phases) and 1-3 (phases a-c)")
        if self.kind == "shelly-proem" and self.channel > 1:
            raise ValueError("a Pro EM has channels 0 and 1 (em1:0, em1:1)")
        if self.kind == "shelly-proem" and self.role != "house" and self.channel != 0:
            raise ValueError(
                "a Pro EM has one relay (switch:0): as the out/in relay use channel 0, "
                "with em1:0's CT on the switched line"
            )
        return self

    @property
    def family(self) -> Literal["tasmota", "shelly"]:
        """Which adapter speaks to it."""
        return "tasmota" if self.kind == "tasmota" else "shelly"

    def adapter(self, src: str) -> TasmotaAdapter | ShellyAdapter:
        """A fresh pure adapter; ``src`` names this client in Shelly RPCs."""
        if self.family == "tasmota":
            return TasmotaAdapter(self.topic, tz=self.tz, max_power_w=self.max_power_w)
        return ShellyAdapter(self.topic, src=src, max_power_w=self.max_power_w)


def house_devices(entries: Iterable[Mapping[str, Any] | DeviceConfig]) -> list[DeviceConfig]:
    """Validate a house's ``devices`` entries.

    Raises:
        pydantic.ValidationError: an entry is invalid.
        ValueError: a role given twice (one house meter, one relay per direction), or
            one device topic configured as two different kinds.
    """
    out = [d if isinstance(d, DeviceConfig) else DeviceConfig.model_validate(d) for d in entries]
    for role in ("house", "out", "in"):
        if sum(d.role == role for d in out) > 1:
            raise ValueError(f"more than one device with role {role!r}")
    kinds: dict[str, DeviceConfig] = {}
    for d in out:  # one device may serve several roles, as one kind
        seen = kinds.setdefault(d.topic, d)
        if (seen.kind, seen.tz, seen.max_power_w) != (d.kind, d.tz, d.max_power_w):
            raise ValueError(f"device {d.topic!r} is configured twice differently")
    return out


def parse_device(spec: str) -> DeviceConfig:
    """``ROLE=KIND:TOPIC[:CHANNEL]`` (command line) → :class:`DeviceConfig`.

    Raises:
        ValueError: not in that form, or invalid values.
    """
    role, sep, rest = spec.partition("=")
    kind, sep2, tail = rest.partition(":")
    if not sep or not sep2 or not tail:
        raise ValueError(f"expected ROLE=KIND:TOPIC[:CHANNEL], got {spec!r}")
    topic, _, channel = tail.partition(":")
    fields: dict[str, Any] = {"role": role, "kind": kind, "topic": topic}
    if channel:
        if not channel.isdigit():
            raise ValueError(f"channel must be a number in {spec!r}")
        fields["channel"] = int(channel)
    return DeviceConfig.model_validate(fields)


def acl_topics(device: DeviceConfig, client_id: str) -> list[str]:
    """Topic filters the house's agent (MQTT client ``client_id``) must read and write
    for ``device`` — for the broker's per-house ACL (``topic readwrite …``)."""
    if device.family == "tasmota":
        t = device.topic
        return [f"tele/{t}/#", f"stat/{t}/#", f"cmnd/{t}/#"]
    return [f"{device.topic}/#", f"{client_id}/rpc"]
