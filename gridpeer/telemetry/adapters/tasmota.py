"""Tasmota energy plugs and meters (Sonoff Pow/S31, Gosund, Athom, Shelly on Tasmota…).

Pure parsing and command building; the MQTT I/O is in :mod:`.bridge`. Message formats
as documented by Tasmota (``docs/MQTT.md``, "Commands" → Power, and the energy sensor
page: https://tasmota.github.io/docs/MQTT/ , https://tasmota.github.io/docs/Commands/#power ,
https://tasmota.github.io/docs/Power-Monitoring-Calibration/ ):

* ``tele/<topic>/SENSOR`` every ``TelePeriod`` (10–3600 s, default 300)::

      {"Time":"2026-06-01T12:00:00","ENERGY":{"TotalStartTime":"2025-01-01T00:00:00",
       "Total":12.345,"Yesterday":1.234,"Today":0.567,"Period":2,"Power":123,
       "ApparentPower":150,"ReactivePower":86,"Factor":0.82,"Voltage":230,"Current":0.652}}

  ``Total``/``Today``/``Yesterday`` in **kWh**, ``Power`` W, ``ApparentPower`` VA,
  ``ReactivePower`` var, ``Factor`` 0..1, ``Voltage`` V, ``Current`` A. Multi-channel
  devices send a JSON array per field (``"Power":[12,34]``); a scalar beside arrays
  applies to every channel (one mains voltage), except ``Total``, which is then the sum
  of the channels (no per-channel counter). ``Time`` is the device's *local* time
  without offset (``Timezone`` command); before NTP sync it is in 1970.
  ``Today`` resets at local midnight and ``Yesterday`` takes its value; only ``Total``
  is a lifetime counter, so only ``Total`` is metered (converted kWh → Wh).
* ``tele/<topic>/LWT``: ``Online`` / ``Offline`` (retained; the broker publishes
  ``Offline`` as the device's last will).
* Relay: publish ``ON`` / ``OFF`` to ``cmnd/<topic>/POWER<n>`` (``POWER`` = ``POWER1``);
  the device answers on ``stat/<topic>/RESULT`` with ``{"POWER":"ON"}`` (single relay)
  or ``{"POWER2":"OFF"}``.

Channels: ``n``-th element of the arrays = channel ``n`` (0-based) = relay
``POWER<n+1>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gridpeer.telemetry.adapters.readings import (
    MAX_DEVICE_PAYLOAD_BYTES,
    AdapterReject,
    ChannelReading,
    EnergyCounter,
    Malformed,
    OutOfRange,
    Rejection,
    number,
)
from gridpeer.telemetry.adapters.update import Update

KWH = 1000.0
"""Wh per kWh: Tasmota counts energy in kWh."""
_SYNCED_AFTER = datetime(2020, 1, 1, tzinfo=UTC)
_MAX_V, _MAX_A = 1000.0, 500.0


def sensor_topic(topic: str) -> str:
    """Where the device publishes its telemetry."""
    return f"tele/{topic}/SENSOR"


def lwt_topic(topic: str) -> str:
    """The device's availability (Online / Offline, retained)."""
    return f"tele/{topic}/LWT"


def result_topic(topic: str) -> str:
    """Where the device answers commands."""
    return f"stat/{topic}/RESULT"


def power_command(topic: str, channel: int, on: bool) -> tuple[str, str]:
    """(MQTT topic, payload) that switches relay ``channel`` (0-based) on or off."""
    if channel < 0:
        raise ValueError(f"channel must be >= 0, got {channel}")
    return f"cmnd/{topic}/POWER{channel + 1}", "ON" if on else "OFF"


def _load(payload: bytes) -> Any:
    if len(payload) > MAX_DEVICE_PAYLOAD_BYTES:
        raise _TooLarge(f"payload of {len(payload)} B > {MAX_DEVICE_PAYLOAD_BYTES} B")
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"not JSON: {exc}") from None


class _TooLarge(ValueError):
    pass


def _per_channel(energy: dict[str, Any], key: str, n: int) -> list[Any] | None:
    """``energy[key]`` spread over ``n`` channels (None if absent)."""
    if key not in energy:
        return None
    value = energy[key]
    if isinstance(value, list):
        if len(value) != n:
            raise Malformed(f"ENERGY.{key} has {len(value)} channels, Power has {n}")
        return value
    return [value] * n


@dataclass(frozen=True)
class SensorSample:
    """One channel of a ``tele/<topic>/SENSOR`` message, units converted.

    Attributes: ts (UTC), power_w (W), voltage_v (V), current_a (A), factor (0..1),
    apparent_va (VA), reactive_var (var), total_wh (Wh, the raw lifetime counter, None
    without a per-channel ``Total``).
    """

    channel: int
    ts: datetime
    power_w: float
    voltage_v: float | None
    current_a: float | None
    factor: float | None
    apparent_va: float | None
    reactive_var: float | None
    total_wh: float | None


def parse_sensor(payload: bytes, tz: ZoneInfo, received_at: datetime) -> list[SensorSample]:
    """Parse a SENSOR message into one sample per channel.

    ``Time`` (device local time in ``tz``, or with an explicit offset) gives the
    timestamp; without ``Time`` the broker-side ``received_at`` is used.

    Raises:
        Malformed: no ``ENERGY`` object or no ``Power``, arrays of different lengths,
            non-numbers.
        OutOfRange: negative energy, |power| beyond 100 kW, voltage/current beyond
            the limits, a factor outside 0..1, or a clock not yet synchronised (1970).
    """
    body = _load(payload)
    if not isinstance(body, dict) or not isinstance(body.get("ENERGY"), dict):
        raise Malformed("SENSOR message without an ENERGY object")
    energy: dict[str, Any] = body["ENERGY"]
    ts = _time(body.get("Time"), tz, received_at)
    if "Power" not in energy:
        raise Malformed("ENERGY.Power missing")
    power = energy["Power"]
    n = len(power) if isinstance(power, list) else 1
    if n == 0:
        raise Malformed("ENERGY.Power is an empty array")
    cols = {
        k: _per_channel(energy, k, n)
        for k in ("Power", "Voltage", "Current", "Factor", "ApparentPower", "ReactivePower")
    }
    totals = energy.get("Total")
    if isinstance(totals, list):
        total_col: list[Any] | None = _per_channel(energy, "Total", n)
    else:
        total_col = [totals] if n == 1 and totals is not None else None
    for k in ("Today", "Yesterday"):  # daily counters: validated, not metered
        for x in _per_channel(energy, k, n) or []:
            number(x, f"ENERGY.{k}", 0.0, 1e6)

    def opt(key: str, i: int, lo: float, hi: float) -> float | None:
        col = cols[key]
        return None if col is None or col[i] is None else number(col[i], f"ENERGY.{key}", lo, hi)

    out: list[SensorSample] = []
    for i in range(n):
        p = opt("Power", i, -100_000.0, 100_000.0)
        if p is None:
            raise Malformed("ENERGY.Power is null")
        total = None
        if total_col is not None:
            total = number(total_col[i], "ENERGY.Total", 0.0, 1e9) * KWH
        out.append(
            SensorSample(
                channel=i,
                ts=ts,
                power_w=p,
                voltage_v=opt("Voltage", i, 0.0, _MAX_V),
                current_a=opt("Current", i, 0.0, _MAX_A),
                factor=opt("Factor", i, 0.0, 1.0),
                apparent_va=opt("ApparentPower", i, 0.0, 100_000.0),
                reactive_var=opt("ReactivePower", i, -100_000.0, 100_000.0),
                total_wh=total,
            )
        )
    return out


def _time(value: Any, tz: ZoneInfo, received_at: datetime) -> datetime:
    if value is None:
        return received_at.astimezone(UTC)
    if not isinstance(value, str):
        raise Malformed(f"Time: expected an ISO string, got {value!r}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise Malformed(f"Time: not ISO 8601: {value!r}") from None
    t = (t.replace(tzinfo=tz) if t.tzinfo is None else t).astimezone(UTC)
    if t < _SYNCED_AFTER:
        raise OutOfRange(f"Time {value!r}: the device clock is not synchronised (NTP)")
    return t


def parse_lwt(payload: bytes) -> bool:
    """``Online`` → True, ``Offline`` → False.

    Raises:
        Malformed: anything else.
    """
    text = payload.decode("utf-8", "replace").strip()
    if text not in ("Online", "Offline"):
        raise Malformed(f"LWT: expected Online or Offline, got {text[:40]!r}")
    return text == "Online"


def parse_result(payload: bytes) -> dict[int, bool]:
    """Relay states in a RESULT message, by channel (0-based); ``{}`` for other commands'
    results (``{"Dimmer":50}``).

    Raises:
        Malformed: not a JSON object, or a POWER value other than ON / OFF.
    """
    body = _load(payload)
    if not isinstance(body, dict):
        raise Malformed("RESULT is not a JSON object")
    out: dict[int, bool] = {}
    for key, value in body.items():
        if not key.startswith("POWER"):
            continue
        idx = key[5:]
        if idx and not idx.isdigit():
            continue  # PowerOnState, PowerDelta… are settings, not relay states
        if not isinstance(value, str) or value.upper() not in ("ON", "OFF"):
            raise Malformed(f"RESULT.{key}: expected ON or OFF, got {value!r}")
        out[int(idx) - 1 if idx else 0] = value.upper() == "ON"
    return out


@dataclass
class TasmotaAdapter:
    """One Tasmota device: messages in, readings and relay confirmations out.

    Ordering: Tasmota stamps ``Time`` to the second, and a ``PowerDelta`` message may share
    its second with a ``TelePeriod`` one, so a message older than the last one applied,
    or an identical repeat of it (a QoS 1 redelivery), is rejected (``out_of_order``);
    a different message of the same second is applied. Lifetime energy goes through
    :class:`~gridpeer.telemetry.adapters.readings.EnergyCounter` (resets, rollbacks
    after a power cut, implausible jumps).

    Args:
        topic: the device's ``Topic`` (the ``%topic%`` of its FullTopic).
        tz: the device's time zone (its ``Time`` is local time), IANA name.
        max_power_w: the largest power it can measure, W (energy counter plausibility).
    """

    topic: str
    tz: str = "UTC"
    max_power_w: float = 25_000.0
    online: bool | None = None
    relays: dict[int, bool] = field(default_factory=dict)
    counters: dict[int, EnergyCounter] = field(default_factory=dict)
    last_ts: datetime | None = None
    _last_payload: bytes = b""

    def __post_init__(self) -> None:
        self._zone = ZoneInfo(self.tz)

    def subscriptions(self) -> list[str]:
        """Topics to subscribe to (QoS 1)."""
        return [sensor_topic(self.topic), lwt_topic(self.topic), result_topic(self.topic)]

    def relay_command(self, channel: int, on: bool) -> tuple[str, str]:
        """(topic, payload) switching relay ``channel``."""
        return power_command(self.topic, channel, on)

    def handle(self, topic: str, payload: bytes, received_at: datetime) -> Update:
        """Apply one message; never raises for bad input (a rejection is returned)."""
        try:
            if topic == sensor_topic(self.topic):
                return self._sensor(payload, received_at)
            if topic == lwt_topic(self.topic):
                self.online = parse_lwt(payload)
                return Update(online=self.online)
            if topic == result_topic(self.topic):
                states = parse_result(payload)
                self.relays.update(states)
                return Update(relays=states)
        except _TooLarge as exc:
            return Update(rejection=Rejection(AdapterReject.TOO_LARGE, str(exc)))
        except OutOfRange as exc:
            return Update(rejection=Rejection(AdapterReject.OUT_OF_RANGE, f"{topic}: {exc}"))
        except Malformed as exc:
            return Update(rejection=Rejection(AdapterReject.MALFORMED, f"{topic}: {exc}"))
        return Update(rejection=Rejection(AdapterReject.FOREIGN, f"{topic} is not {self.topic}'s"))

    def _sensor(self, payload: bytes, received_at: datetime) -> Update:
        samples = parse_sensor(payload, self._zone, received_at)
        ts = samples[0].ts
        last = self.last_ts
        if last is not None and (ts < last or (ts == last and payload == self._last_payload)):
            what = "a repeat of" if ts == last else "older than"
            return Update(
                rejection=Rejection(
                    AdapterReject.OUT_OF_ORDER,
                    f"{sensor_topic(self.topic)}: Time {ts.isoformat()} is {what} the last "
                    f"message ({last.isoformat()})",
                )
            )
        for s in samples:  # all counters plausible, or none is touched
            if s.total_wh is not None:
                self._counter(s.channel).check(s.total_wh, ts)
        readings = []
        for s in samples:
            energy = None
            if s.total_wh is not None:
                counter = self._counter(s.channel)
                counter.update(s.total_wh, ts)
                energy = counter.wh
            readings.append(
                ChannelReading(
                    device=self.topic,
                    channel=s.channel,
                    ts=ts,
                    power_w=s.power_w,
                    voltage_v=s.voltage_v,
                    current_a=s.current_a,
                    power_factor=s.factor,
                    apparent_va=s.apparent_va,
                    reactive_var=s.reactive_var,
                    energy_wh=energy,
                )
            )
        self.last_ts, self._last_payload = ts, payload
        return Update(readings=tuple(readings))

    def _counter(self, channel: int) -> EnergyCounter:
        if channel not in self.counters:
            self.counters[channel] = EnergyCounter(self.max_power_w)
        return self.counters[channel]
