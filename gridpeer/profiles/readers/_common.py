"""Shared checks of the file readers: clear errors naming the file, line and column."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd


class ProfileFileError(ValueError):
    """A data file cannot be read: missing columns, bad timestamps or bad numbers."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def read_table(path: str | Path) -> tuple[Path, pd.DataFrame]:
    """Read a CSV as strings, with column names stripped; errors as ProfileFileError."""
    file = Path(path)
    if not file.is_file():
        raise ProfileFileError(file, "no such file")
    try:
        frame = pd.read_csv(file, dtype=str, skipinitialspace=True, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ProfileFileError(file, f"not a readable CSV file ({exc})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise ProfileFileError(file, "no data rows")
    return file, frame


def require_columns(path: Path, frame: pd.DataFrame, *names: str) -> None:
    """Raise unless every column in ``names`` exists."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ProfileFileError(
            path, f"missing column(s) {missing}; the file has {list(frame.columns)}"
        )


def numeric(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as float64; a non-number names its line (header = line 1)."""
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ProfileFileError(
            path, f"line {row + 2}: column {column!r} is not a number: {frame[column].iloc[row]!r}"
        )
    return values.astype(np.float64)


def timestamps(
    path: Path,
    raw: pd.Series,
    *,
    naive_tz: str = "UTC",
    epoch_unit: Literal["s", "ms"] = "s",
) -> pd.DatetimeIndex:
    """Parse POSIX numbers (``epoch_unit`` ``s`` or ``ms``) or ISO 8601 timestamps to a UTC
    index. Timestamps without an offset are wall-clock times in ``naive_tz``; that includes
    POSIX numbers when ``naive_tz`` is not UTC (a logger that wrote local time as if it
    were UTC). Bad or non-increasing timestamps name their line."""
    text = raw.astype(str).str.strip()
    as_number = pd.to_numeric(text, errors="coerce")
    if as_number.notna().all():
        parsed = pd.to_datetime(as_number, unit=epoch_unit, utc=False, errors="coerce")
    else:
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=False)
        if parsed.dtype == object:  # mixed offsets
            parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ProfileFileError(path, f"line {row + 2}: bad timestamp {raw.iloc[row]!r}")
    index = pd.DatetimeIndex(parsed)
    if index.tz is None:
        try:
            index = index.tz_localize(naive_tz, ambiguous="NaT", nonexistent="NaT")
        except Exception as exc:  # unknown zone name
            raise ProfileFileError(path, f"cannot use time zone {naive_tz!r}: {exc}") from exc
        if index.isna().any():
            row = int(np.flatnonzero(index.isna())[0])
            raise ProfileFileError(
                path,
                f"line {row + 2}: timestamp {raw.iloc[row]!r} does not exist or is "
                f"ambiguous in {naive_tz}",
            )
    index = index.tz_convert("UTC").as_unit("ns")
    steps = np.diff(index.asi8)
    if (steps <= 0).any():
        row = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise ProfileFileError(
            path, f"line {row + 2}: timestamp {raw.iloc[row]!r} is not after the previous one"
        )
    return index.rename("time")


def resample_power(frame: pd.DataFrame, step_s: int) -> pd.DataFrame:
    """Mean power per step of ``step_s`` s (W) from a reader's output; empty steps are NaN."""
    if step_s <= 0:
        raise ValueError("step_s must be > 0 s")
    return frame.resample(f"{step_s}s", origin="epoch").mean()
