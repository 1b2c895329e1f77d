"""The store interface: one protocol, SQLite (default) and PostgreSQL backends.

Time series are keyed by (house, device, ts) and inserts are idempotent on that key.
All timestamps are UTC-aware datetimes. Units as in :mod:`gridpeer.telemetry.schemas`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Resolution(StrEnum):
    """Aggregate resolutions available for charts."""

    RAW = "raw"
    MIN1 = "1min"
    MIN15 = "15min"
    DAY = "1d"


@dataclass(frozen=True)
class Sample:
    """One stored reading. Fields absent for a device are ``None``.

    Attributes: house, device (``meter``|``pv``|``bess``), ts (UTC), v (V), i (A),
    p (W), e_wh (Wh, meter only), p_grid (W, meter only, + import), soc (0..1, bess only).
    """

    house: str
    device: str
    ts: datetime
    v: float | None = None
    i: float | None = None
    p: float | None = None
    e_wh: int | None = None
    p_grid: float | None = None
    soc: float | None = None


@dataclass(frozen=True)
class Bucket:
    """An aggregate over ``[start, start + resolution)``: means of V, I, P (W), SoC;
    ``energy_wh`` is the energy of P over the bucket (Wh); ``n`` readings averaged."""

    house: str
    device: str
    start: datetime
    n: int
    v: float | None
    i: float | None
    p: float | None
    soc: float | None
    energy_wh: float
    p_grid: float | None = None


class Store(Protocol):
    """What every backend provides."""

    def write(self, samples: Iterable[Sample]) -> int:
        """Insert samples in one batch; duplicates of (house, device, ts) are ignored.

        Returns the number of rows actually inserted."""
        ...

    def latest(self, house: str | None = None) -> Sequence[Sample]:
        """Latest sample per (house, device), optionally for one house."""
        ...

    def history(
        self,
        house: str,
        device: str,
        start: datetime,
        end: datetime,
        resolution: Resolution = Resolution.RAW,
    ) -> Sequence[Bucket]:
        """Samples (RAW: one bucket per reading, n=1) or aggregates in [start, end)."""
        ...

    def count(self, house: str | None = None, device: str | None = None) -> int:
        """Number of stored raw samples."""
        ...

    def houses(self) -> Sequence[str]:
        """Houses that have any stored sample, sorted."""
        ...

    def apply_retention(self, older_than: datetime) -> int:
        """Delete raw samples older than ``older_than``; aggregates stay. Returns rows deleted."""
        ...

    def close(self) -> None:
        """Flush and release the connection."""
        ...
