"""Reader for plain ``timestamp,watts`` CSV files (one household's consumption)."""

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


def read_watts_csv(path: str | Path, *, naive_tz: str = "UTC") -> pd.DataFrame:
    """Read ``timestamp,watts`` rows: a frame indexed by UTC time with ``load_w`` (W).

    Timestamps are ISO 8601 (with offset, or naive in ``naive_tz``) or POSIX seconds.
    """
    file, frame = read_table(path)
    frame.columns = [c.lower() for c in frame.columns]
    require_columns(file, frame, "timestamp", "watts")
    index = timestamps(file, frame["timestamp"], naive_tz=naive_tz)
    watts = numeric(file, frame, "watts").to_numpy()
    if (watts < 0.0).any():
        row = int(np.flatnonzero(watts < 0.0)[0])
        raise ProfileFileError(file, f"line {row + 2}: negative power {watts[row]} W")
    return pd.DataFrame({"load_w": watts}, index=index)
