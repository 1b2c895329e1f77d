"""The trading schedule on chain: thesis windows (with a time zone) and 15-minute slots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gridpeer.chain import THESIS_SCHEDULE, Schedule, errors
from tests.chain.conftest import BACKENDS, DAY, PRICE, Env, make_env, open_backend

H = 3600


@pytest.fixture(params=BACKENDS)
def wenv(request: pytest.FixtureRequest) -> Iterator[Env]:
    """A market on the thesis schedule in Chile's winter time (UTC-4)."""
    chain = open_backend(request, request.param)
    yield make_env(request.param, chain, Schedule("windows", tz_minutes=-240))
    chain.backend.close()


def test_default_schedule_is_the_thesis_one(wenv: Env) -> None:
    m = wenv.chain.deploy_market()
    assert m.schedule() == THESIS_SCHEDULE
    assert wenv.market.schedule().tz_minutes == -240


def test_windows_mode_enforces_bidding_and_delivery_windows(wenv: Env) -> None:
    m, (s, b, *_) = wenv.market, wenv.h
    day = wenv.midnight(2) + 4 * H  # local midnight (UTC-4) in UTC
    d1 = (day + 13 * H, day + 14 * H)  # 13:00-14:00 local
    d2 = (day + 16 * H + 1800, day + 17 * H + 1800)  # 16:30-17:30 local
    wenv.goto(day + 9 * H)  # 09:00: bidding not open yet
    with pytest.raises(errors.OutsideWindow) as exc:
        m.post_offer(s, 100, PRICE, *d1)
    assert exc.value.args_["opens"] == day + 10 * H + 1800
    wenv.goto(day + 11 * H)  # 11:00: session 1 bidding
    oid = m.post_offer(s, 100, PRICE, *d1)
    with pytest.raises(errors.OutsideWindow):
        m.post_offer(s, 100, PRICE, *d2)  # session 2 bidding opens 14:00
    for bad in ((d1[0], d1[0] + 1800), (d1[0] + 60, d1[1] + 60), (day + 20 * H, day + 21 * H)):
        with pytest.raises(errors.BadWindow):
            m.post_offer(s, 100, PRICE, *bad)
    tid = m.buy(b, oid, 40)
    wenv.goto(day + 13 * H + 600)  # delivery 1 running: no more buying
    with pytest.raises(errors.OutsideWindow):
        m.buy(b, oid, 10)
    m.confirm_delivery(wenv.chain.oracle, tid, 40)
    wenv.goto(day + 15 * H)  # 15:00 session 2 bidding
    rid = m.post_request(b, 50, PRICE, *d2)
    m.fill(s, rid, 50)
    wenv.goto(day + 18 * H)  # 18:00 closed
    with pytest.raises(errors.OutsideWindow):
        m.post_offer(s, 100, PRICE, d1[0] + DAY, d1[1] + DAY)  # tomorrow's bidding not open


def test_continuous_mode_uses_aligned_slots(wenv: Env) -> None:
    m, ch, (s, b, *_) = wenv.market, wenv.chain, wenv.h
    m.set_schedule(ch.admin, Schedule("continuous", tz_minutes=-240, slot_minutes=15))
    slot = (m.now() // 900 + 8) * 900
    oid = m.post_offer(s, 10, PRICE, slot, slot + 900)
    m.buy(b, oid, 10)
    for bad in ((slot + 60, slot + 960), (slot, slot + 1800)):
        with pytest.raises(errors.BadWindow):
            m.post_offer(s, 10, PRICE, *bad)


def test_bad_schedules_are_refused(wenv: Env) -> None:
    m, admin = wenv.market, wenv.chain.admin
    with pytest.raises(errors.BadSchedule):
        m.set_schedule(admin, Schedule("windows", windows=(780, 630, 840, 840, 990, 1050)))
    with pytest.raises(errors.BadSchedule):
        m.set_schedule(admin, Schedule("continuous", slot_minutes=7))
    with pytest.raises(errors.BadSchedule):
        m.set_schedule(admin, Schedule("open", tz_minutes=900))
    with pytest.raises(errors.WrongRole):
        m.set_schedule(wenv.h[0], Schedule("open"))
