"""What every device adapter produces, and the bookkeeping they share (pure, no I/O).

* :class:`ChannelReading` – one measured channel of a device at one instant: power W
  (signed, + = consumed through the meter), voltage V, current A, power factor, apparent
  power VA, reactive power var, and the adapter's *lifetime* energy counters in Wh.
* :class:`EnergyCounter` – turns a device's raw energy counter (which resets, rolls back
  after a reboot, or jumps when units are wrong) into a monotonic Wh total that never
  counts the same energy twice.
* :class:`Rejection` / :class:`AdapterReject` – why a device message was not used; the
  adapters count every rejection by reason, like :mod:`gridpeer.telemetry.validate`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from gridpeer.telemetry.schemas import MeterReading

MAX_DEVICE_PAYLOAD_BYTES = 16_384
"""Largest accepted device message, bytes (a Shelly full status is ~2–4 kB)."""


class AdapterReject(StrEnum):
    """Why a device message was rejected (metric label)."""

    FOREIGN = "foreign"  # topic of no configured device
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"  # not JSON, or a required field missing / of the wrong type
    OUT_OF_RANGE = "out_of_range"  # a value outside physical limits, or an implausible jump
    OUT_OF_ORDER = "out_of_order"  # older than (or as old as) the last message applied
    NO_BASE = "no_base"  # a Shelly NotifyStatus delta before any full status
    DEVICE_ERROR = "device_error"  # the device answered a command with an error


@dataclass(frozen=True)
class Rejection:
    """A rejected device message: ``reason`` for metrics, ``detail`` for the log."""

    reason: AdapterReject
    detail: str


class Malformed(ValueError):
    """A payload that does not have the documented shape."""


class OutOfRange(ValueError):
    """A value outside what the device can physically measure."""


@dataclass(frozen=True)
class ChannelReading:
    """One channel of a device at ``ts``.

    Attributes:
        device: the device's MQTT topic (Tasmota) or topic prefix (Shelly).
        channel: channel number (see each adapter for the mapping).
        ts: UTC time of the measurement.
        power_w: active power, W; + = consumed through the meter, - = returned.
        voltage_v: RMS voltage, V (None if the device does not say).
        current_a: RMS current, A (None if the device does not say).
        power_factor: 0..1 (None if not reported).
        apparent_va: apparent power, VA (None if not reported).
        reactive_var: reactive power, var (None if not reported).
        energy_wh: lifetime consumed energy from :class:`EnergyCounter`, Wh (None when
            the device reports no per-channel counter).
        returned_wh: lifetime returned energy, Wh (None if not reported).
    """

    device: str
    channel: int
    ts: datetime
    power_w: float
    voltage_v: float | None = None
    current_a: float | None = None
    power_factor: float | None = None
    apparent_va: float | None = None
    reactive_var: float | None = None
    energy_wh: int | None = None
    returned_wh: int | None = None

    def meter_reading(self) -> MeterReading:
        """This channel as the house's grid meter (data contract v1): ``p`` = consumption
        (W >= 0), ``p_grid`` = signed power (W, + import), ``e_wh`` = consumed Wh.

        Raises:
            ValueError: the channel has no energy counter, so it cannot be a house meter.
        """
        if self.energy_wh is None:
            raise ValueError(f"{self.device} channel {self.channel} reports no energy counter")
        return MeterReading(
            ts=self.ts,
            v=self.voltage_v or 0.0,
            i=abs(self.current_a or 0.0),
            p=max(0.0, self.power_w),
            e_wh=self.energy_wh,
            p_grid=self.power_w,
        )


MIN_GAP_S = 60.0
"""Counter plausibility looks at least this far back, s (device and host clocks differ)."""
COUNTER_JITTER_WH = 0.5
"""A decrease of the raw counter up to this many Wh is rounding noise, not a reset."""


@dataclass
class EnergyCounter:
    """Monotonic lifetime energy from a device's raw counter, Wh.

    Rules (each covered by a test):

    * the first raw value is the baseline: ``total_wh`` starts there;
    * an increase adds the difference, unless it is more than ``max_power_w`` could
      deliver since the last value (over at least ``MIN_GAP_S``, plus 1.5 Wh of
      rounding): then it is a unit mistake (Wh read as kWh) or a corrupt value and is
      refused (:class:`OutOfRange`), the baseline unchanged;
    * a decrease to below half of the last value is a **reset** (``EnergyTotal 0``,
      ``EMData.ResetCounters``, a counter that restarts at 0 on reboot): the new raw
      value is energy since the reset and is added; counted in ``resets``;
    * any other decrease is a **rollback** (Tasmota saves Total to flash only every few
      minutes; after a power cut it restarts from the last save): the baseline moves
      down and nothing is added, so the energy measured again is not counted twice;
      counted in ``rollbacks``. Energy lost in a rollback is under-counted, never
      over-counted.

    Attributes:
        max_power_w: the largest power the device can measure, W.
        total_wh: monotonic energy, Wh (float; readings report it rounded down).
    """

    max_power_w: float = 25_000.0
    total_wh: float = 0.0
    last_raw_wh: float | None = None
    last_ts: datetime | None = None
    resets: int = 0
    rollbacks: int = 0

    def check(self, raw_wh: float, ts: datetime) -> None:
        """Raise :class:`OutOfRange` if :meth:`update` would refuse ``raw_wh`` (Wh)."""
        if raw_wh < 0:
            raise OutOfRange(f"energy counter {raw_wh} Wh < 0")
        last = self.last_raw_wh
        if last is None or self.last_ts is None or raw_wh < last:
            return
        gap_h = max(MIN_GAP_S, (ts - self.last_ts).total_seconds()) / 3600.0
        limit = self.max_power_w * gap_h + COUNTER_JITTER_WH + 1.0
        if raw_wh - last > limit:
            raise OutOfRange(
                f"energy counter rose {raw_wh - last:.1f} Wh in {gap_h * 3600:.0f} s "
                f"(> {limit:.1f} Wh at {self.max_power_w:.0f} W): wrong unit or corrupt"
            )

    def update(self, raw_wh: float, ts: datetime) -> float:
        """Apply raw counter value ``raw_wh`` (Wh) measured at ``ts``; return the Wh added.

        Raises:
            OutOfRange: negative, or an increase no real power could explain (nothing
                changes then).
        """
        self.check(raw_wh, ts)
        last = self.last_raw_wh
        if last is None:
            self.last_raw_wh, self.last_ts, self.total_wh = raw_wh, ts, raw_wh
            return 0.0
        added = 0.0
        if raw_wh >= last - COUNTER_JITTER_WH:
            added = max(0.0, raw_wh - last)
            if raw_wh < last:  # jitter: keep the higher baseline
                raw_wh = last
        elif raw_wh < last / 2:
            added = raw_wh
            self.resets += 1
        else:
            self.rollbacks += 1
        self.total_wh += added
        self.last_raw_wh, self.last_ts = raw_wh, ts
        return added

    @property
    def wh(self) -> int:
        """Lifetime energy rounded down, Wh."""
        return int(self.total_wh + 1e-9)


@dataclass
class RejectCounts:
    """Rejections by reason, plus the messages used (counts since start)."""

    received: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def reject(self, rejection: Rejection) -> None:
        """Count one rejection."""
        self.rejected[rejection.reason.value] += 1

    @property
    def rejected_total(self) -> int:
        """All rejected messages."""
        return sum(self.rejected.values())


def number(value: object, what: str, lo: float, hi: float) -> float:
    """``value`` as a float within ``[lo, hi]``.

    Raises:
        Malformed: not a number (booleans and strings are refused).
        OutOfRange: outside ``[lo, hi]`` or not finite.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"{what}: expected a number, got {value!r}")
    x = float(value)
    if not (lo <= x <= hi):
        raise OutOfRange(f"{what}: {x} outside [{lo}, {hi}]")
    return x
