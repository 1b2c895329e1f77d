"""Households driven by users' own data files (the profiles layer's readers).

A household group with ``data = "file.csv"`` takes its load (and its PV, when the file
has a solar column) from the file instead of the models. The file is read by
:mod:`gridpeer.profiles.readers` (``data_format``: ``watts`` = ``timestamp,watts``,
``refit`` = REFIT, ``smart-home`` = ``use [kW]`` / ``Solar [kW]``), averaged to 15-minute
slots on UTC days, and replayed day after day (simulated day ``d`` uses file day
``d mod days``). Gaps take the mean of the same slot on the file's other days; every
slot of the day must appear at least once. Powers in W. pandas and the readers are
imported only when a file is read (a run without data files starts faster).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

SLOTS = 96
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DailyProfiles:
    """Power per UTC day and slot from a file, W, shape ``(days, 96)``; ``pv_w`` None
    when the file has no solar column."""

    load_w: F64
    pv_w: F64 | None

    def day(self, index: int) -> tuple[F64, F64 | None]:
        """(load, pv) of simulated day ``index`` (cycling over the file's days), W."""
        k = index % self.load_w.shape[0]
        return self.load_w[k], None if self.pv_w is None else self.pv_w[k]


def _by_day(series: F64, first_slot: int, path: Path, column: str) -> F64:
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
    filled: F64 = np.where(np.isfinite(table), table, means[None, :])
    return filled


def load_daily_profiles(path: Path, data_format: str) -> DailyProfiles:
    """Read ``path`` in ``data_format`` and cut it into UTC days of 15-minute slots.

    Raises:
        ProfileFileError: unreadable or malformed file, or not every slot covered.
        ValueError: unknown format.
    """
    from gridpeer.profiles.readers import (
        ProfileFileError,
        read_refit,
        read_smart_home,
        read_watts_csv,
        resample_power,
    )

    readers: dict[str, Callable[[Path], pd.DataFrame]] = {
        "watts": read_watts_csv,
        "refit": read_refit,
        "smart-home": read_smart_home,
    }
    if data_format not in readers:
        raise ValueError(f"unknown data_format {data_format!r}; one of {', '.join(readers)}")
    if not path.is_file():
        raise ProfileFileError(path, "file not found")
    frame = resample_power(readers[data_format](path), 900)
    if frame.empty:
        raise ProfileFileError(path, "no readings")
    start = frame.index[0]
    first_slot = int((start - start.normalize()).total_seconds() // 900)
    load = _by_day(frame["load_w"].to_numpy(dtype=np.float64), first_slot, path, "load_w")
    pv = None
    if "pv_w" in frame.columns:
        pv = _by_day(frame["pv_w"].to_numpy(dtype=np.float64), first_slot, path, "pv_w")
    return DailyProfiles(load, pv)
