"""Reader for REFIT household electrical load CSV files (cleaned dataset layout).

Columns ``Time`` (local UK time), ``Unix`` (POSIX seconds), ``Aggregate`` (W),
``Appliance1``..``Appliance9`` (W) and ``Issues`` (1 = aggregate below appliance sum).
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


def read_refit(
    path: str | Path,
    *,
    drop_issues: bool = True,
    local_tz: str = "Europe/London",
    unix_tz: str = "UTC",
) -> pd.DataFrame:
    """Read a REFIT CSV: a frame indexed by UTC time with ``load_w`` (Aggregate, W) and
    ``appliance1_w``.. for the appliance columns present.

    Time comes from ``Unix`` if present (true POSIX seconds, unless ``unix_tz`` names the
    zone of a logger that wrote local time as if it were UTC), else ``Time`` in
    ``local_tz``. With
    ``drop_issues`` rows flagged ``Issues == 1`` are dropped.
    """
    file, frame = read_table(path)
    require_columns(file, frame, "Aggregate")
    if "Unix" in frame.columns:
        index = timestamps(file, frame["Unix"], naive_tz=unix_tz)
    elif "Time" in frame.columns:
        index = timestamps(file, frame["Time"], naive_tz=local_tz)
    else:
        raise ProfileFileError(
            file, f"missing a time column ('Unix' or 'Time'); the file has {list(frame.columns)}"
        )
    data = {"load_w": numeric(file, frame, "Aggregate").to_numpy()}
    for column in frame.columns:
        if column.startswith("Appliance"):
            data[f"{column.lower()}_w"] = numeric(file, frame, column).to_numpy()
    for name, values in data.items():
        if (values < 0.0).any():
            row = int(np.flatnonzero(values < 0.0)[0])
            raise ProfileFileError(file, f"line {row + 2}: negative power in {name}")
    result = pd.DataFrame(data, index=index)
    if drop_issues and "Issues" in frame.columns:
        issues = numeric(file, frame, "Issues").to_numpy()
        result = result[issues != 1.0]
    return result
