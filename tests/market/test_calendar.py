"""Trading calendars: thesis windows, continuous slots, config round-trips, time zones."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from gridpeer.market.calendar import (
    ContinuousCalendar,
    SessionSpec,
    WindowCalendar,
    calendar_from_dict,
    thesis_default,
)


def utc(h: int, m: int = 0, d: int = 5) -> datetime:
    return datetime(2026, 1, d, h, m, tzinfo=UTC)


def test_thesis_default_schedule_in_utc() -> None:
    cal = thesis_default()
    assert cal.open_at(utc(10, 29)) == []
    (s,) = cal.open_at(utc(10, 30))
    assert (s.bid_close, s.delivery_start, s.delivery_end) == (utc(13), utc(13), utc(14))
    assert cal.open_at(utc(13)) == []  # gate closed at 13:00 exactly
    assert cal.delivering_at(utc(13, 30)) == s
    st = cal.status(utc(13, 30))
    assert st.open == () and st.next is not None and st.next.bid_open == utc(14)
    # closed 17:30-23:59: next session opens tomorrow 10:30
    assert st.to_dict()["delivering"] == {
        "bid_open": "2026-01-05T10:30:00+00:00",
        "bid_close": "2026-01-05T13:00:00+00:00",
        "delivery_start": "2026-01-05T13:00:00+00:00",
        "delivery_end": "2026-01-05T14:00:00+00:00",
    }
    assert st.to_dict()["open"] == []
    late = cal.status(utc(20))
    assert late.open == () and late.delivering is None
    assert late.next is not None and late.next.bid_open == utc(10, 30, d=6)


def test_time_zone_and_dst() -> None:
    cal = thesis_default("Europe/Berlin")
    winter = cal.sessions_on(date(2026, 1, 5))[0]
    summer = cal.sessions_on(date(2026, 7, 6))[0]
    assert winter.bid_open == utc(9, 30)  # CET = UTC+1
    assert summer.bid_open == datetime(2026, 7, 6, 8, 30, tzinfo=UTC)  # CEST = UTC+2
    # a query given in another zone is the same instant
    local = datetime(2026, 1, 5, 11, 0, tzinfo=cal_zone("Europe/Berlin"))
    assert cal.open_at(local) == [winter]


def cal_zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_continuous_slots_with_gate_closure() -> None:
    cal = ContinuousCalendar(slot_minutes=15, gate_closure_minutes=15, horizon_minutes=60)
    t = utc(15, 7)
    opened = cal.open_at(t)
    assert [s.delivery_start for s in opened] == [utc(15, 30), utc(15, 45), utc(16)]
    assert all(s.is_open(t) for s in opened)
    assert not cal.session(utc(15, 15)).is_open(t)  # gate closed at 15:00
    assert cal.next_open(t) is not None and cal.next_open(t).delivery_start == utc(16, 15)  # type: ignore[union-attr]
    assert cal.delivering_at(t) == cal.session(utc(15))
    assert cal.open_at(utc(15, 0))[0].delivery_start == utc(15, 30)  # boundary: 15:15 closed
    with pytest.raises(ValueError, match="slot boundary"):
        cal.session(utc(15, 1))
    assert len(cal.status(t).open) == 3


@pytest.mark.parametrize(
    "cal",
    [
        thesis_default("America/Santiago"),
        ContinuousCalendar(30, 5, 120, "Asia/Kolkata"),
        WindowCalendar((SessionSpec(time(6), time(7), time(8), time(9)),), "UTC"),
    ],
)
def test_config_round_trip(cal: WindowCalendar | ContinuousCalendar) -> None:
    d = cal.to_dict()
    assert calendar_from_dict(d) == cal
    t = utc(12)
    assert calendar_from_dict(d).status(t) == cal.status(t)


@pytest.mark.parametrize(
    ("cfg", "msg"),
    [
        ({"kind": "weekly"}, "kind"),
        ({"kind": "windows", "sessions": []}, "sessions"),
        ({"kind": "windows", "sessions": [{"bid_open": "10:00"}]}, "missing"),
        (
            {
                "kind": "windows",
                "sessions": [
                    {
                        "bid_open": "11:00",
                        "bid_close": "10:00",
                        "delivery_start": "12:00",
                        "delivery_end": "13:00",
                    }
                ],
            },
            "bid_open < bid_close",
        ),
        (
            {
                "sessions": [
                    {
                        "bid_open": "1pm",
                        "bid_close": "10:00",
                        "delivery_start": "12:00",
                        "delivery_end": "13:00",
                    }
                ]
            },
            "HH:MM",
        ),
        ({"kind": "continuous", "slot_minutes": 7}, "divide 1440"),
        ({"kind": "continuous", "slot_minutes": "15"}, "integer"),
        ({"kind": "continuous", "gate_minutes": 5}, "unknown"),
        ({"kind": "thesis", "timezone": "Mars/Base"}, "time zone"),
    ],
)
def test_bad_config_is_rejected_clearly(cfg: dict[str, Any], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        calendar_from_dict(cfg)


def test_overlapping_deliveries_rejected_and_naive_time_refused() -> None:
    a = SessionSpec(time(6), time(7), time(8), time(10))
    b = SessionSpec(time(6), time(7), time(9), time(11))
    with pytest.raises(ValueError, match="overlap"):
        WindowCalendar((a, b))
    with pytest.raises(ValueError, match="timezone-aware"):
        thesis_default().open_at(datetime(2026, 1, 5, 11))


def test_calendar_imports_without_numpy() -> None:
    code = "import sys, gridpeer.market.calendar; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_next_open_is_strictly_later() -> None:
    cal = thesis_default()
    n = cal.next_open(utc(10, 30))
    assert n is not None and n.bid_open == utc(14)
    assert cal.next_open(utc(10, 30) - timedelta(seconds=1)) == cal.open_at(utc(10, 30))[0]
