"""Households replaying users' own data files (the profiles layer's readers).

A household group with ``data = "file.csv"`` takes its load (and its PV, when the file
has a solar column) from the file instead of the models. The file is read by
:mod:`gridpeer.profiles.readers` (``data_format``: ``watts`` = ``timestamp,watts``,
``refit`` = REFIT, ``smart-home`` = ``use [kW]`` / ``Solar [kW]`` CSV, ``split-json`` =
pandas split JSON with epoch-millisecond index), its wall-clock times taken in ``data_tz``
(naive ISO text and POSIX numbers alike), averaged to 15-minute slots on UTC days, and
replayed day after day: with ``data_align = "start"`` simulated day ``d`` uses file day
``d mod days``; with ``"date"`` the file day of the same day of the year (cycling). Gaps
take the mean of the same slot on the file's other days; every slot of the day must appear
at least once. Warnings (filled days, unit guesses, cycling) are collected for the run's
report. Powers in W. pandas and the readers are imported only when a file is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

SLOTS = 96
CLEAR_SKY_WINDOW_DAYS = 14
"""Days of a file's history whose per-slot maximum PV is a data house's clear-sky PV."""
F64 = npt.NDArray[np.float64]
FORMATS = ("watts", "refit", "smart-home", "split-json")


@dataclass(frozen=True)
class DailyProfiles:
    """Power per UTC day and slot from a file, W, shape ``(days, 96)``; ``pv_w`` None
    when the file has no solar column."""

    load_w: F64
    pv_w: F64 | None
    first_day: date = date(1970, 1, 1)
    warnings: tuple[str, ...] = ()
    offset: int = 0

    @property
    def days(self) -> int:
        """Number of UTC days in the file."""
        return int(self.load_w.shape[0])

    def file_day(self, index: int) -> int:
        """The file day replayed on simulated day ``index`` (with the alignment offset)."""
        return (index + self.offset) % self.days

    def aligned(self, start: date, mode: str) -> DailyProfiles:
        """A copy replayed from ``start``: ``mode`` ``start`` puts the file's first day on
        ``start``; ``date`` the file day with ``start``'s day of the year."""
        if mode == "start":
            return _replace(self, offset=0)
        if mode != "date":
            raise ValueError(f"unknown data_align {mode!r}; one of start, date")
        doy = start.timetuple().tm_yday - self.first_day.timetuple().tm_yday
        return _replace(self, offset=doy % self.days)

    def day(self, index: int) -> tuple[F64, F64 | None]:
        """(load, pv) of simulated day ``index`` (cycling over the file's days), W."""
        k = self.file_day(index)
        return self.load_w[k], None if self.pv_w is None else self.pv_w[k]

    def clear_sky_pv_w(self, index: int) -> F64 | None:
        """Clear-sky PV of simulated day ``index`` from the house's own history, W: the
        per-slot maximum over the ``CLEAR_SKY_WINDOW_DAYS`` file days before the replayed
        day (cycling; the day itself only when the file has a single day). None without PV.
        """
        if self.pv_w is None:
            return None
        k = self.file_day(index)
        n = self.days
        if n == 1:
            only: F64 = self.pv_w[0]
            return only
        back = np.arange(1, min(CLEAR_SKY_WINDOW_DAYS, n - 1) + 1)
        out: F64 = self.pv_w[(k - back) % n].max(axis=0)
        return out


def _replace(p: DailyProfiles, offset: int) -> DailyProfiles:
    return DailyProfiles(p.load_w, p.pv_w, p.first_day, p.warnings, offset)


def _by_day(
    series: F64, first_slot: int, path: Path, column: str, first_day: date, notes: list[str]
) -> F64:
    total = first_slot + series.size
    days = -(-total // SLOTS)
    grid = np.full(days * SLOTS, np.nan)
    grid[first_slot:total] = series
    table = grid.reshape(days, SLOTS)
    counts = np.isfinite(table).sum(axis=0)
    if (counts == 0).any():
        from gridpeer.profiles.readers import ProfileFileError

        missing = int(np.flatnonzero(counts == 0)[0])
        raise ProfileFileError(
            path,
            f"{column}: no data for the slot {missing // 4:02d}:{missing % 4 * 15:02d} UTC on "
            "any day; the file must cover every 15-minute slot of the day at least once",
        )
    means = np.nanmean(table, axis=0)
    empty = np.isfinite(table).sum(axis=1) == 0
    if empty.any():
        dates = [np.datetime64(first_day) + int(i) for i in np.flatnonzero(empty)]
        shown = ", ".join(str(d) for d in dates[:5]) + (" ..." if len(dates) > 5 else "")
        notes.append(
            f"{path.name}: {column}: {len(dates)} whole day(s) missing ({shown}), filled "
            "with the mean of each slot over the file's other days"
        )
    gaps = int((~np.isfinite(table[~empty])).sum())
    if gaps:
        notes.append(
            f"{path.name}: {column}: {gaps} of {int((~empty).sum()) * SLOTS} 15-minute "
            "slots of the partly covered days filled with the mean of the same slot on "
            "the other days"
        )
    filled: F64 = np.where(np.isfinite(table), table, means[None, :])
    return filled


def load_daily_profiles(path: Path, data_format: str, tz: str = "UTC") -> DailyProfiles:
    """Read ``path`` in ``data_format`` and cut it into UTC days of 15-minute slots.

    ``tz``: the zone the file's clock was in (naive ISO text and POSIX numbers; REFIT's
    ``Time`` column keeps Europe/London unless ``tz`` is given).

    Raises:
        ProfileFileError: unreadable or malformed file, or not every slot covered.
        ValueError: unknown format.
    """
    from gridpeer.profiles.readers import (
        ProfileFileError,
        read_refit,
        read_smart_home,
        read_split_json,
        read_watts_csv,
        resample_power,
    )

    local = "Europe/London" if tz == "UTC" else tz
    readers: dict[str, Callable[[Path], pd.DataFrame]] = {
        "watts": lambda p: read_watts_csv(p, naive_tz=tz),
        "refit": lambda p: read_refit(p, local_tz=local, unix_tz=tz),
        "smart-home": lambda p: read_smart_home(p, naive_tz=tz),
        "split-json": lambda p: read_split_json(p, naive_tz=tz),
    }
    if data_format not in readers:
        raise ValueError(f"unknown data_format {data_format!r}; one of {', '.join(readers)}")
    if not path.is_file():
        raise ProfileFileError(path, "file not found")
    raw = readers[data_format](path)
    notes: list[str] = [str(w) for w in raw.attrs.get("warnings", [])]
    frame = resample_power(raw, 900)
    if frame.empty:
        raise ProfileFileError(path, "no readings")
    start = frame.index[0]
    first_slot = int((start - start.normalize()).total_seconds() // 900)
    first_day = start.date()
    load = _by_day(
        frame["load_w"].to_numpy(dtype=np.float64), first_slot, path, "load_w", first_day, notes
    )
    pv = None
    if "pv_w" in frame.columns:
        pv = _by_day(
            frame["pv_w"].to_numpy(dtype=np.float64), first_slot, path, "pv_w", first_day, notes
        )
    return DailyProfiles(load, pv, first_day, tuple(notes))
