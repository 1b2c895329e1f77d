"""Reader for pandas "split" JSON household power (``DataFrame.to_json(orient="split")``).

The layout: ``{"columns": [...], "index": [...], "data": [[...], ...]}`` with the index in
epoch milliseconds (pandas' default ``date_unit``), epoch seconds, or ISO 8601 text. Load
is the ``use [kW]`` column (or ``use``, ``load``), PV the ``Solar [kW]`` column (or ``Solar``,
``gen``, ``pv``), both optional-unit: a ``[kW]`` or ``[W]`` suffix says the unit; without
one the unit is guessed (largest reading below 100 → kW, else W) and the guess is recorded
in ``frame.attrs["warnings"]`` so the caller can print it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from gridpeer.profiles.readers._common import ProfileFileError, timestamps

LOAD_NAMES = ("use", "load", "consumption")
PV_NAMES = ("solar", "gen", "pv")
KW_GUESS_BELOW = 100.0
"""A unit-less column whose largest reading is below this is taken as kW (no household
draws under 100 W at its peak; no household meter reads 100 kW)."""


def _find(columns: list[str], names: tuple[str, ...]) -> tuple[int, str] | None:
    """Index and unit (``kW``, ``W`` or ``?``) of the first column named one of ``names``."""
    for i, col in enumerate(columns):
        base, _, rest = col.partition("[")
        if base.strip().lower() in names:
            unit = rest.rstrip("] ").strip()
            return i, unit if unit in ("kW", "W") else "?"
    return None


def _index_unit(values: list[object]) -> Literal["s", "ms"]:
    """``ms`` for epoch milliseconds (numbers above 1e11, i.e. after 1973 in ms), else ``s``."""
    nums = pd.to_numeric(pd.Series(values), errors="coerce")
    if nums.notna().all() and float(nums.abs().max()) > 1e11:
        return "ms"
    return "s"


def read_split_json(path: str | Path, *, naive_tz: str = "UTC") -> pd.DataFrame:
    """Read a pandas split-JSON file: a frame indexed by UTC time with ``load_w`` and, when
    present, ``pv_w`` (W; negative PV standby readings become 0).

    ``naive_tz``: zone of the index's wall-clock times (epoch numbers written as if UTC,
    or ISO text without offset). Unit guesses are listed in ``frame.attrs["warnings"]``.

    Raises:
        ProfileFileError: not JSON, not the split layout, no load column, bad numbers.
    """
    file = Path(path)
    if not file.is_file():
        raise ProfileFileError(file, "no such file")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProfileFileError(file, f"not a readable JSON file ({exc})") from exc
    if not isinstance(doc, dict) or not {"columns", "index", "data"} <= doc.keys():
        raise ProfileFileError(
            file, 'not a pandas "split" JSON object (needs "columns", "index" and "data")'
        )
    columns = [str(c) for c in doc["columns"]]
    rows = doc["data"]
    if not rows:
        raise ProfileFileError(file, "no data rows")
    if len(rows) != len(doc["index"]):
        raise ProfileFileError(file, f"{len(doc['index'])} index entries for {len(rows)} rows")
    load = _find(columns, LOAD_NAMES)
    if load is None:
        raise ProfileFileError(
            file, f"no load column ('use [kW]', 'load', ...); the file has {columns}"
        )
    try:
        table = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ProfileFileError(file, f"data rows are not all numbers ({exc})") from exc
    if table.ndim != 2 or table.shape[1] != len(columns):
        raise ProfileFileError(file, f"rows must each have {len(columns)} values")
    raw_index = pd.Series([str(v) for v in doc["index"]])
    index = timestamps(file, raw_index, naive_tz=naive_tz, epoch_unit=_index_unit(doc["index"]))
    warnings: list[str] = []
    out: dict[str, np.ndarray] = {}
    for key, found in (("load_w", load), ("pv_w", _find(columns, PV_NAMES))):
        if found is None:
            continue
        i, unit = found
        values = table[:, i]
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ProfileFileError(file, f"row {row}: column {columns[i]!r} is not a number")
        if unit == "?":
            unit = "kW" if float(np.abs(values).max()) < KW_GUESS_BELOW else "W"
            warnings.append(
                f"{file.name}: column {columns[i]!r} has no unit; guessed {unit} "
                f"(largest reading {float(np.abs(values).max()):g})"
            )
        out[key] = values * (1000.0 if unit == "kW" else 1.0)
    if (out["load_w"] < 0.0).any():
        row = int(np.flatnonzero(out["load_w"] < 0.0)[0])
        raise ProfileFileError(file, f"row {row}: negative consumption {columns[load[0]]!r}")
    if "pv_w" in out:
        out["pv_w"] = np.clip(out["pv_w"], 0.0, None)
    frame = pd.DataFrame(out, index=index)
    frame.attrs["warnings"] = warnings
    return frame
