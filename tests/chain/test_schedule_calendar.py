"""The one trading calendar agrees with the contract: for random schedules, clocks and
delivery windows, :func:`gridpeer.market.calendar.refusal` accepts a bid exactly when the
contract's ``_checkWindow`` does, on the real bytecode (pyrevm)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gridpeer.chain import Schedule, errors, open_chain
from gridpeer.market.calendar import refusal

T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
YEAR = 366 * 86_400
SLOTS = [m for m in range(1, 256) if 1440 % m == 0]  # slotMinutes is a uint8 on chain


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    mode = draw(st.sampled_from(["open", "windows", "continuous"]))
    tz = draw(st.integers(-720, 840))
    if mode == "continuous":
        return Schedule("continuous", tz, draw(st.sampled_from(SLOTS)))
    if mode == "open":
        return Schedule("open", tz)
    # two sessions, bids before delivery, deliveries that do not overlap, all before 24:00
    cuts = sorted(draw(st.lists(st.integers(0, 1439), min_size=6, max_size=6, unique=True)))
    b1, d1, e1, b2, d2, e2 = cuts
    swap = draw(st.booleans())  # session 2 may deliver first; bids may open before d1 ends
    if draw(st.booleans()):
        b2 = draw(st.integers(0, d2 - 1))
    w = (b2, d2, e2, b1, d1, e1) if swap else (b1, d1, e1, b2, d2, e2)
    return Schedule("windows", tz, 15, w)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Schedule, int, int, int]:
    schedule = draw(schedules())
    now = T0 + draw(st.integers(0, YEAR))
    cal = schedule.calendar()
    t = datetime.fromtimestamp(now, UTC)
    near = [*cal.open_at(t), *filter(None, [cal.next_open(t), cal.delivering_at(t)])]
    if near and draw(st.booleans()):  # a real session, maybe nudged
        s = draw(st.sampled_from(near))
        start = int(s.delivery_start.timestamp()) + draw(st.sampled_from([0, 0, 0, -60, 60]))
        end = int(s.delivery_end.timestamp()) + draw(st.sampled_from([0, 0, 0, -60, 60]))
    else:  # anything around now
        start = now + draw(st.integers(-3 * 3600, 3 * 86_400))
        end = start + draw(st.integers(-600, 6 * 3600))
    return schedule, now, start, end


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_calendar_refuses_exactly_what_the_contract_refuses(
    case: tuple[Schedule, int, int, int],
) -> None:
    schedule, now, start, end = case
    assume(start > 86_400)
    chain = open_chain("revm", genesis_time=now - 10)
    market = chain.deploy_market()
    market.set_schedule(chain.admin, schedule)
    [seller] = chain.houses(1, market)
    market.set_time(now)
    why = refusal(
        schedule.calendar(),
        datetime.fromtimestamp(now, UTC),
        datetime.fromtimestamp(start, UTC),
        datetime.fromtimestamp(end, UTC),
    )
    if why is None:
        market.post_offer(seller, 1, 10**12, start, end)  # the contract must accept it
    else:
        with pytest.raises((errors.BadWindow, errors.OutsideWindow)):
            market.post_offer(seller, 1, 10**12, start, end)


def test_a_schedule_ending_at_midnight_is_refused_by_the_calendar() -> None:
    with pytest.raises(ValueError, match="before local midnight"):
        Schedule("windows", 0, 15, (600, 700, 1440, 100, 200, 300)).calendar()


def test_refusal_reasons_name_the_schedule() -> None:
    cal = Schedule("continuous", -240, 15).calendar()
    t = datetime(2026, 3, 10, 15, tzinfo=UTC)
    why = refusal(cal, t, t + timedelta(minutes=5), t + timedelta(minutes=20))
    assert why is not None and "15-minute delivery slots" in why
