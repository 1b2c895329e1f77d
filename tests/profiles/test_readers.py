"""Readers for users' own data files, on small sample files and malformed variants."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridpeer.profiles.readers import (
    ProfileFileError,
    read_refit,
    read_smart_home,
    read_watts_csv,
    resample_power,
)

DATA = Path(__file__).parent / "data"


def _write(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_smart_home_sample() -> None:
    frame = read_smart_home(DATA / "smart_home_sample.csv")
    assert list(frame.columns) == ["load_w", "pv_w"]
    assert len(frame) == 120
    assert frame.index[0] == pd.Timestamp(datetime(2016, 1, 1, 13, 0, tzinfo=UTC))
    assert str(frame.index.tz) == "UTC"
    assert (frame.index[1] - frame.index[0]).total_seconds() == 60
    assert frame["load_w"].iloc[0] == pytest.approx(497.15)
    assert frame["pv_w"].iloc[0] == 0.0  # -3 W standby reading clipped
    assert frame["pv_w"].max() > 1_500.0
    assert np.all(frame.to_numpy() >= 0.0)


def test_smart_home_step_override_rebuilds_index(tmp_path: Path) -> None:
    # HomeC's time column advances one second per 1-minute row
    text = "time,use [kW],Solar [kW]\n100,1.0,0.5\n101,2.0,0.25\n102,1.5,0\n"
    frame = read_smart_home(_write(tmp_path, text), step_s=60)
    assert [int(t.timestamp()) for t in frame.index] == [100, 160, 220]
    assert list(frame["load_w"]) == [1000.0, 2000.0, 1500.0]


def test_refit_sample() -> None:
    frame = read_refit(DATA / "refit_sample.csv")
    assert len(frame) == 59  # the row flagged Issues=1 is dropped
    assert "load_w" in frame and "appliance9_w" in frame
    assert frame.index[0] == pd.Timestamp(datetime(2014, 3, 1, 8, 0, tzinfo=UTC))
    assert len(read_refit(DATA / "refit_sample.csv", drop_issues=False)) == 60


def test_refit_local_time_column(tmp_path: Path) -> None:
    text = "Time,Aggregate\n2014-07-01 12:00:00,100\n2014-07-01 12:00:08,200\n"
    frame = read_refit(_write(tmp_path, text))
    assert frame.index[0] == pd.Timestamp(datetime(2014, 7, 1, 11, 0, tzinfo=UTC))  # BST


def test_watts_sample_converts_offsets_to_utc() -> None:
    frame = read_watts_csv(DATA / "watts_sample.csv")
    assert len(frame) == 96
    assert frame.index[0] == pd.Timestamp(datetime(2025, 1, 15, 3, 0, tzinfo=UTC))
    hourly = resample_power(frame, 3600)
    assert len(hourly) == 24
    assert hourly["load_w"].iloc[0] == pytest.approx(frame["load_w"].iloc[:4].mean())


def test_watts_naive_and_posix_timestamps(tmp_path: Path) -> None:
    naive = read_watts_csv(
        _write(tmp_path, "timestamp,watts\n2025-01-01 00:00,5\n2025-01-01 00:01,6\n"),
        naive_tz="America/Santiago",
    )
    assert naive.index[0] == pd.Timestamp(datetime(2025, 1, 1, 3, 0, tzinfo=UTC))
    posix = read_watts_csv(_write(tmp_path, "Timestamp, Watts\n0,5\n60,6\n", "p.csv"))
    assert posix.index[1] == pd.Timestamp(datetime(1970, 1, 1, 0, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("reader", "text", "message"),
    [
        (read_smart_home, "time,use [kW]\n1,2\n", r"missing column\(s\) \['Solar \[kW\]'\]"),
        (read_smart_home, "time,use [kW],Solar [kW]\n1,abc,0\n", "line 2: column 'use \\[kW\\]'"),
        (read_smart_home, "time,use [kW],Solar [kW]\n1,1,0\n2,-1,0\n", "line 3: negative"),
        (read_refit, "Unix,Power\n1,2\n", r"missing column\(s\) \['Aggregate'\]"),
        (read_refit, "Aggregate,Foo\n1,2\n", "missing a time column"),
        (read_watts_csv, "when,watts\n2025-01-01T00:00Z,1\n", r"\['timestamp'\]"),
        (
            read_watts_csv,
            "timestamp,watts\n2025-01-01T00:00Z,1\nyesterday,2\n",
            "line 3: bad timestamp 'yesterday'",
        ),
        (
            read_watts_csv,
            "timestamp,watts\n2025-01-01T00:01Z,1\n2025-01-01T00:00Z,2\n",
            "line 3: .* is not after the previous one",
        ),
        (read_watts_csv, "timestamp,watts\n2025-01-01T00:00Z,1\n2025-01-01T00:01Z,\n", "line 3"),
        (read_watts_csv, "timestamp,watts\n", "no data rows"),
        (read_watts_csv, "", "not a readable CSV"),
        (read_watts_csv, "timestamp,watts\n2025-13-01T00:00Z,1\n", "line 2: bad timestamp"),
    ],
)
def test_malformed_files_get_clear_errors(
    tmp_path: Path, reader: object, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ProfileFileError, match=message) as info:
        reader(path)  # type: ignore[operator]
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileFileError, match="no such file"):
        read_watts_csv(tmp_path / "absent.csv")


def test_split_json_epoch_ms(tmp_path: Path) -> None:
    from gridpeer.profiles.readers import read_split_json

    idx = pd.date_range("2016-01-01 05:00", periods=3, freq="1min")
    frame = pd.DataFrame(
        {"use [kW]": [0.5, 1.0, 0.25], "Solar [kW]": [-0.003, 1.5, 2.0]}, index=idx
    )
    path = tmp_path / "home.json"
    frame.to_json(path, orient="split")
    assert '"index":[1451624400000' in path.read_text()
    out = read_split_json(path)
    assert out.index[0] == pd.Timestamp(datetime(2016, 1, 1, 5, 0, tzinfo=UTC))
    assert list(out["load_w"]) == [500.0, 1000.0, 250.0]
    assert list(out["pv_w"]) == [0.0, 1500.0, 2000.0]
    assert out.attrs["warnings"] == []
    shifted = read_split_json(path, naive_tz="America/New_York")
    assert shifted.index[0] == pd.Timestamp(datetime(2016, 1, 1, 10, 0, tzinfo=UTC))


def test_split_json_unit_guess_is_reported(tmp_path: Path) -> None:
    from gridpeer.profiles.readers import read_split_json

    path = _write(
        tmp_path,
        '{"columns":["use","gen"],"index":[1451624400000,1451624460000],'
        '"data":[[0.5,0.0],[0.7,1.2]]}',
        "g.json",
    )
    out = read_split_json(path)
    assert list(out["load_w"]) == [500.0, 700.0]
    assert any("'use' has no unit; guessed kW" in w for w in out.attrs["warnings"])
    watts = _write(tmp_path, '{"columns":["load"],"index":[0,60],"data":[[450],[900]]}', "w.json")
    assert list(read_split_json(watts)["load_w"]) == [450.0, 900.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1,2]", "split"),
        ("{", "not a readable JSON"),
        ('{"columns":["x"],"index":[0],"data":[[1]]}', "no load column"),
        ('{"columns":["use [W]"],"index":[0,1],"data":[[1]]}', "2 index entries for 1 rows"),
        ('{"columns":["use [W]"],"index":[0],"data":[["a"]]}', "not all numbers"),
        ('{"columns":["use [W]"],"index":[0],"data":[[-1]]}', "negative"),
    ],
)
def test_split_json_errors(tmp_path: Path, text: str, message: str) -> None:
    from gridpeer.profiles.readers import read_split_json

    with pytest.raises(ProfileFileError, match=message):
        read_split_json(_write(tmp_path, text, "bad.json"))


def test_watts_file_that_looks_like_kw_is_flagged(tmp_path: Path) -> None:
    rows = "".join(f"{k * 900},{0.3 + (k % 7) / 10}\n" for k in range(96))
    frame = read_watts_csv(_write(tmp_path, "timestamp,watts\n" + rows))
    assert frame["load_w"].max() == pytest.approx(0.9)  # still read as W
    assert any("if the file is in kW" in w for w in frame.attrs["warnings"])
    assert read_watts_csv(DATA / "watts_sample.csv").attrs["warnings"] == []
