"""Trading windows as the contract sees them: status and window checks agree."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from gridpeer.chain.types import Schedule
from gridpeer.web.schedule import check_window, describe, status

THESIS_CL = Schedule("windows", tz_minutes=-240)  # Chile, UTC-4


def ts(h: int, m: int = 0) -> int:
    return int(datetime(2026, 3, 10, h, m, tzinfo=UTC).timestamp())


def test_windows_open_and_closed() -> None:
    # 11:00 local = 15:00 UTC: bids for 13:00-14:00 local (17:00-18:00 UTC) are open
    s = status(THESIS_CL, ts(15))
    assert [(w.start, w.end) for w in s.open_windows][:1] == [(ts(17), ts(18))]
    assert s.next_change == ts(17) and s.next_change_what == "bidding closes"
    # 18:00 local = 22:00 UTC: closed until 10:30 local tomorrow (14:30 UTC)
    s = status(THESIS_CL, ts(22))
    assert s.open_windows == () and s.next_change == ts(14, 30) + 86_400
    assert "closed" in s.reason
    assert "UTC-04:00" in describe(THESIS_CL) and "10:30" in describe(THESIS_CL)


def test_check_window_reasons() -> None:
    assert check_window(THESIS_CL, ts(15), ts(17), ts(18)) is None
    assert "started" in str(check_window(THESIS_CL, ts(17, 30), ts(17), ts(18)))
    assert "not opened" in str(check_window(THESIS_CL, ts(12), ts(17), ts(18)))
    assert "not a delivery window" in str(check_window(THESIS_CL, ts(15), ts(17), ts(19)))
    cont = Schedule("continuous", slot_minutes=15)
    assert check_window(cont, ts(15), ts(16), ts(16, 15)) is None
    assert "15-minute" in str(check_window(cont, ts(15), ts(16, 5), ts(16, 20)))
    assert "end after" in str(check_window(Schedule("open"), ts(15), ts(16), ts(16)))


@given(
    now=st.integers(min_value=ts(0), max_value=ts(0) + 10 * 86_400),
    mode=st.sampled_from(["open", "windows", "continuous"]),
    tz=st.sampled_from([-240, -180, 0, 60, 330]),
)
def test_every_open_window_is_accepted(now: int, mode: str, tz: int) -> None:
    sched = Schedule(mode, tz_minutes=tz)  # type: ignore[arg-type]
    s = status(sched, now)
    assert s.next_change is not None and s.next_change > now
    for w in s.open_windows:
        assert check_window(sched, now, w.start, w.end) is None
        assert w.bid_open <= now < w.start < w.end
    if mode != "windows":
        assert s.open_windows
