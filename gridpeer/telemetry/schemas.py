"""Telemetry message schemas (data contract v1).

Topic: ``gridpeer/<community>/<house>/<device>/<kind>`` with ``device`` one of
``meter`` | ``pv`` | ``bess`` | ``ev`` and ``kind`` ``reading``. JSON body fields, units explicit:

* ``ts``   – UTC timestamp of the measurement (ISO 8601 with offset, or POSIX seconds).
* ``v``    – voltage in volts (V).
* ``i``    – current in amperes (A); for the battery positive = discharging.
* ``p``    – power in watts (W); meter: household consumption (>= 0, an EV charger's
             power included); pv: production (>= 0); bess: positive = discharging,
             negative = charging; ev: the EV charger, positive = charging the car,
             negative = discharging it into the house (V2G).
* ``e_wh`` – meter only: cumulative household consumption in watt-hours (Wh, integer).
* ``p_grid`` – meter only: net grid power in W, positive = import, negative = export.
* ``soc``  – bess and ev: state of charge (of the battery, of the car), 0..1.

A message that fails validation is rejected with a reason; it never reaches the store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
TOPIC_ROOT = "gridpeer"
_NAME = r"^[A-Za-z0-9_-]{1,32}$"

Volts = Annotated[float, Field(strict=True, ge=0.0, le=1000.0, allow_inf_nan=False)]
Amps = Annotated[float, Field(strict=True, ge=-500.0, le=500.0, allow_inf_nan=False)]


class Device(StrEnum):
    """Measured devices of one house."""

    METER = "meter"
    PV = "pv"
    BESS = "bess"
    EV = "ev"


class _Reading(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: datetime

    @field_validator("ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        offset = value.utcoffset()
        if offset is None:
            raise ValueError("timestamp must carry a timezone (UTC)")
        return value.replace(tzinfo=UTC) if not offset else value.astimezone(UTC)


class MeterReading(_Reading):
    """Smart meter: household consumption (V, A, W, cumulative Wh) and net grid power (W)."""

    device: Literal[Device.METER] = Device.METER
    v: Volts
    i: Annotated[float, Field(strict=True, ge=0.0, le=500.0, allow_inf_nan=False)]
    p: Annotated[float, Field(strict=True, ge=0.0, le=100_000.0, allow_inf_nan=False)]
    e_wh: Annotated[int, Field(strict=True, ge=0, le=10**12)]
    p_grid: Annotated[
        float, Field(strict=True, ge=-100_000.0, le=100_000.0, allow_inf_nan=False)
    ] = 0.0


class PVReading(_Reading):
    """PV string: voltage (V), current (A), power (W >= 0)."""

    device: Literal[Device.PV] = Device.PV
    v: Volts
    i: Annotated[float, Field(strict=True, ge=0.0, le=500.0, allow_inf_nan=False)]
    p: Annotated[float, Field(strict=True, ge=0.0, le=100_000.0, allow_inf_nan=False)]


class BESSReading(_Reading):
    """Battery: voltage (V), current (A, + discharge), power (W, + discharge), SoC 0..1."""

    device: Literal[Device.BESS] = Device.BESS
    v: Volts
    i: Amps
    p: Annotated[float, Field(strict=True, ge=-100_000.0, le=100_000.0, allow_inf_nan=False)] = 0.0
    soc: Annotated[float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False)]


class EVReading(_Reading):
    """EV charger: power (W, + charging the car, − V2G) and the car's SoC 0..1 (the
    charger reads it from the car while plugged in; the last value otherwise)."""

    device: Literal[Device.EV] = Device.EV
    p: Annotated[float, Field(strict=True, ge=-100_000.0, le=100_000.0, allow_inf_nan=False)]
    soc: Annotated[float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False)]


Reading = MeterReading | PVReading | BESSReading | EVReading
READING_TYPES: dict[
    Device, type[MeterReading] | type[PVReading] | type[BESSReading] | type[EVReading]
] = {
    Device.METER: MeterReading,
    Device.PV: PVReading,
    Device.BESS: BESSReading,
    Device.EV: EVReading,
}
