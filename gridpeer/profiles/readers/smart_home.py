"""Reader for "smart home" CSV files with ``use [kW]`` and ``Solar [kW]`` columns.

The layout of the public *Smart Home Dataset with weather information* (HomeC): a
``time`` column (POSIX seconds or ISO 8601) and 1-minute average powers in kW.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gridpeer.profiles.readers._common import (
    ProfileFileError,
    numeric,
    read_table,
    require_columns,
    timestamps,
)

TIME = "time"
USE = "use [kW]"
SOLAR = "Solar [kW]"


def read_smart_home(
    path: str | Path, *, step_s: int | None = None, naive_tz: str = "UTC"
) -> pd.DataFrame:
    """Read a smart-home CSV.

    Returns a frame indexed by UTC time with ``load_w`` (``use [kW]`` × 1000, W) and
    ``pv_w`` (``Solar [kW]`` × 1000, W; small negative standby readings become 0).
    ``step_s``: rebuild the index as first timestamp + row × ``step_s`` s (HomeC's
    ``time`` column advances 1 s per row although its rows are 1 minute apart).
    ``naive_tz``: zone of timestamps without offset.
    """
    file, frame = read_table(path)
    require_columns(file, frame, TIME, USE, SOLAR)
    index = timestamps(file, frame[TIME], naive_tz=naive_tz)
    if step_s is not None:
        if step_s <= 0:
            raise ValueError("step_s must be > 0 s")
        offsets = pd.to_timedelta(np.arange(len(index)) * step_s, unit="s")
        index = pd.DatetimeIndex(index[0] + offsets, name="time")
    load_w = numeric(file, frame, USE).to_numpy() * 1000.0
    pv_w = numeric(file, frame, SOLAR).to_numpy() * 1000.0
    if (load_w < 0.0).any():
        row = int(np.flatnonzero(load_w < 0.0)[0])
        raise ProfileFileError(file, f"line {row + 2}: negative consumption {USE!r}")
    return pd.DataFrame({"load_w": load_w, "pv_w": np.clip(pv_w, 0.0, None)}, index=index)
