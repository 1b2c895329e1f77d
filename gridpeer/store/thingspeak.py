"""Optional uplink of the houses' latest readings to ThingSpeak (the thesis's cloud).

Off by default. Configured in the community TOML::

    [thingspeak]
    enabled = true
    min_interval_s = 15            # the free licence's limit per channel (paid: 1)

    [[thingspeak.channels]]        # one ThingSpeak channel per house
    house = "h1"
    write_key = "…"                # the channel's Write API Key (never commit it)
    fields = { field1 = "meter.p", field2 = "meter.e_wh", field3 = "pv.p", field4 = "bess.soc" }

Each channel gets at most one update per ``min_interval_s`` (ThingSpeak answers faster
updates with an error); readings that arrive meanwhile are coalesced, the newest per
device wins, so what is sent is always the latest state. An update is ThingSpeak's
documented *Write Data* request: ``POST <url>/update.json``, form-encoded, with
``api_key``, the mapped ``field<N>`` values and ``created_at`` (ISO 8601, UTC: the newest
reading's time). A channel is sent again only when one of its readings is newer. An
answer that is not a JSON feed entry with an ``entry_id`` > 0 (ThingSpeak answers ``0``
when it refuses an update) counts as failed; the next attempt waits the interval too.
Units are those of the readings: W, Wh, V, A, SoC 0..1.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from gridpeer.store.base import Sample

log = logging.getLogger(__name__)

FieldName = Literal["field1", "field2", "field3", "field4", "field5", "field6", "field7", "field8"]
"""ThingSpeak's eight fields of a channel."""
Quantity = Literal[
    "meter.p",
    "meter.p_grid",
    "meter.e_wh",
    "meter.v",
    "meter.i",
    "pv.p",
    "pv.v",
    "pv.i",
    "bess.p",
    "bess.v",
    "bess.i",
    "bess.soc",
]
"""``<device>.<reading field>`` of gridpeer's telemetry (W, Wh, V, A, SoC 0..1)."""


class ThingSpeakChannel(BaseModel):
    """One house's ThingSpeak channel.

    Attributes:
        house: the house whose readings go there.
        write_key: the channel's Write API Key.
        fields: ThingSpeak field → gridpeer quantity.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    house: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    write_key: SecretStr
    fields: dict[FieldName, Quantity] = Field(min_length=1)

    @field_validator("write_key")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if not key or key.lower() in {"changeme", "change-me", "xxx", "your-key"}:
            raise ValueError("write_key: set the channel's Write API Key")
        return value


class ThingSpeakSettings(BaseModel):
    """The uplink's settings (``[thingspeak]``).

    Attributes:
        enabled: off by default.
        url: the API's base URL.
        min_interval_s: least wall seconds between two updates of one channel.
        timeout_s: HTTP timeout of one update, s.
        channels: one per house.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    url: str = "https://api.thingspeak.com"
    min_interval_s: float = Field(15.0, ge=1.0)
    timeout_s: float = Field(10.0, gt=0)
    channels: list[ThingSpeakChannel] = []

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("thingspeak.url must be an http(s):// URL")
        return value

    @model_validator(mode="after")
    def _one_per_house(self) -> ThingSpeakSettings:
        houses = [c.house for c in self.channels]
        if len(houses) != len(set(houses)):
            raise ValueError("one ThingSpeak channel per house")
        if self.enabled and not self.channels:
            raise ValueError("thingspeak.enabled needs at least one [[thingspeak.channels]]")
        return self


def update_form(
    channel: ThingSpeakChannel, latest: dict[str, Sample]
) -> tuple[dict[str, str], datetime] | None:
    """The form of one Write Data request from a house's latest sample per device, and
    the newest sample time it uses; None when none of the mapped quantities has a value.
    """
    form: dict[str, str] = {"api_key": channel.write_key.get_secret_value()}
    newest: datetime | None = None
    for name, quantity in sorted(channel.fields.items()):
        device, attr = quantity.split(".")
        sample = latest.get(device)
        value = None if sample is None else getattr(sample, attr)
        if sample is None or value is None:
            continue
        form[name] = str(value)
        newest = sample.ts if newest is None or sample.ts > newest else newest
    if newest is None:
        return None
    form["created_at"] = newest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return form, newest


class ThingSpeakUplink:
    """Sends each configured house's latest readings to its channel, rate limited.

    Args:
        settings: the uplink settings.
        clock: wall seconds for the rate limit (default ``time.monotonic``).

    Attributes:
        posted: updates ThingSpeak accepted; failed: updates refused or not answered.
    """

    def __init__(
        self,
        settings: ThingSpeakSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.channels = {c.house: c for c in settings.channels}
        self.latest: dict[str, dict[str, Sample]] = {h: {} for h in self.channels}
        self.sent_until: dict[str, datetime] = {}
        self.next_at: dict[str, float] = {}
        self.posted = 0
        self.failed = 0

    def offer(self, samples: Iterable[Sample]) -> None:
        """Keep the newest sample per (house, device) of the configured houses."""
        for s in samples:
            devices = self.latest.get(s.house)
            if devices is not None and (s.device not in devices or s.ts > devices[s.device].ts):
                devices[s.device] = s

    def flush(self) -> int:
        """Send every channel that is due and has newer readings; returns how many were
        accepted."""
        now = self.clock()
        ok = 0
        for house, channel in self.channels.items():
            if now < self.next_at.get(house, -1e18):
                continue
            built = update_form(channel, self.latest[house])
            if built is None:
                continue
            form, newest = built
            last = self.sent_until.get(house)
            if last is not None and newest <= last:
                continue
            self.next_at[house] = now + self.settings.min_interval_s
            if self._post(form):
                self.sent_until[house] = newest
                self.posted += 1
                ok += 1
            else:
                self.failed += 1
        return ok

    def _post(self, form: dict[str, str]) -> bool:
        """One Write Data request (standard library HTTP: the uplink needs no extra
        package); True if ThingSpeak stored the entry."""
        req = urllib.request.Request(
            self.settings.url.rstrip("/") + "/update.json",
            data=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.settings.timeout_s) as r:
                status, text = r.status, r.read(4096).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as exc:
            log.warning("ThingSpeak update failed: %s", exc)
            return False
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if 200 <= status < 300 and isinstance(body, dict) and int(body.get("entry_id") or 0) > 0:
            return True
        log.warning("ThingSpeak refused an update: HTTP %s %s", status, text[:80])
        return False
