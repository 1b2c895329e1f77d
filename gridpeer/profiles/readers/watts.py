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

KW_SUSPECT_BELOW_W = 20.0
"""A file whose largest reading is below this many W is probably in kW (a warning)."""
KW_SUSPECT_ROWS = 96
"""Only files of at least a day of 15-minute rows are judged."""


def read_watts_csv(path: str | Path, *, naive_tz: str = "UTC") -> pd.DataFrame:
    """Read ``timestamp,watts`` rows: a frame indexed by UTC time with ``load_w`` (W).

    Timestamps are ISO 8601 (with offset, or naive in ``naive_tz``) or POSIX seconds.
    A file that looks like kW (largest of at least 96 readings below 20 W) is read as W
    with a warning in ``frame.attrs["warnings"]``.
    """
    file, frame = read_table(path)
    frame.columns = [c.lower() for c in frame.columns]
    require_columns(file, frame, "timestamp", "watts")
    index = timestamps(file, frame["timestamp"], naive_tz=naive_tz)
    watts = numeric(file, frame, "watts").to_numpy()
    if (watts < 0.0).any():
        row = int(np.flatnonzero(watts < 0.0)[0])
        raise ProfileFileError(file, f"line {row + 2}: negative power {watts[row]} W")
    frame = pd.DataFrame({"load_w": watts}, index=index)
    top = float(watts.max())
    frame.attrs["warnings"] = (
        [
            f"{file.name}: largest reading {top:g} W; no household peaks that low: if the "
            "file is in kW, multiply by 1000 (read as W)"
        ]
        if len(watts) >= KW_SUSPECT_ROWS and 0.0 < top < KW_SUSPECT_BELOW_W
        else []
    )
    return frame
