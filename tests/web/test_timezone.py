"""The community's day: "today", a day's history, flows and monthly totals start at the
community's local midnight, and times carry its UTC offset."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gridpeer.chain.types import Schedule
from gridpeer.core.clock import Clock
from gridpeer.core.settings import Settings
from gridpeer.runtime.services import community_tz
from gridpeer.store.base import Bucket, Resolution, Sample
from gridpeer.store.factory import open_store
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from gridpeer.web.live import bucket_energy_wh, day_bounds, local_days, zone_label
from gridpeer.web.models import HouseInfo, HouseKind

CHILE = timezone(timedelta(hours=-4))
HOUSE = [HouseInfo(id="h1", name="House 1", kind=HouseKind.CONSUMER)]


def _client(now_utc: datetime, tz: timezone | ZoneInfo = CHILE) -> TestClient:
    """1 kW of load every minute from 2026-03-09 20:00 to 2026-03-10 14:00 UTC, i.e.
    16:00 on the 9th to 10:00 on the 10th in Valparaíso (UTC-4)."""
    store = open_store("sqlite:///:memory:")
    t0 = datetime(2026, 3, 9, 20, tzinfo=UTC)
    store.write(
        [
            Sample("h1", "meter", t0 + timedelta(minutes=k), p=1000.0, p_grid=1000.0)
            for k in range(18 * 60)
        ]
    )
    ctx = WebContext.create(store, Clock(start=now_utc, speed=1.0), HOUSE, "lab", tz=tz)
    return TestClient(create_app(ctx))


def test_today_starts_at_local_midnight() -> None:
    # 2026-03-10 02:00 UTC is still the 9th (22:00) in Valparaíso: "today" is the 9th,
    # from 16:00 to 22:00 local = 6 kWh; a UTC day would give 2 kWh (00:00-02:00 UTC)
    ov = _client(datetime(2026, 3, 10, 2, tzinfo=UTC)).get("/api/overview").json()
    assert ov["now"].startswith("2026-03-09T22:00") and ov["now"].endswith("-04:00")
    assert ov["tz"] == "UTC-04:00"
    assert ov["totals"]["today_load_wh"] == pytest.approx(6000.0)
    utc = _client(datetime(2026, 3, 10, 2, tzinfo=UTC), tz=UTC).get("/api/overview").json()
    assert utc["totals"]["today_load_wh"] == pytest.approx(2000.0) and utc["tz"] == "UTC"


def test_a_days_history_and_flows_are_local() -> None:
    c = _client(datetime(2026, 3, 10, 16, tzinfo=UTC))  # 12:00 local on the 10th
    pts = c.get("/api/houses/h1/history").json()["points"]  # default: local today
    assert pts[0]["start"] == "2026-03-10T00:00:00-04:00"  # local midnight
    assert pts[-1]["start"] == "2026-03-10T09:45:00-04:00"  # data ends 10:00 local
    assert sum(p["energy_wh"] for p in pts) == pytest.approx(10_000.0)
    flows = c.get("/api/flows", params={"date": "2026-03-09"}).json()["points"]
    assert flows[0]["start"] == "2026-03-09T16:00:00-04:00" and len(flows) == 8 * 4


def test_monthly_totals_are_local_days() -> None:
    c = _client(datetime(2026, 3, 10, 16, tzinfo=UTC))
    pts = c.get("/api/houses/h1/history", params={"resolution": "1d"}).json()["points"]
    # 16:00-24:00 on the 9th and 00:00-10:00 on the 10th, local
    assert [(p["start"], p["energy_wh"]) for p in pts] == [
        ("2026-03-09T00:00:00-04:00", pytest.approx(8000.0)),
        ("2026-03-10T00:00:00-04:00", pytest.approx(10_000.0)),
    ]
    assert [p["n"] for p in pts] == [8 * 60, 10 * 60]
    assert pts[0]["p"] == pytest.approx(1000.0)


def test_daylight_saving_days_are_23_and_25_hours() -> None:
    # Chile switches at local midnight between Saturday and Sunday: 2026-09-06 starts at
    # 01:00 (summer time), and 2026-04-04 ends by repeating 23:00-24:00 (winter time)
    santiago = ZoneInfo("America/Santiago")
    for day, hours in ((date(2026, 9, 6), 23), (date(2026, 4, 4), 25), (date(2026, 6, 1), 24)):
        start, end = day_bounds(day, santiago)
        assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=hours), day
    assert zone_label(santiago, datetime(2026, 1, 1, tzinfo=UTC)) == "America/Santiago"


def test_the_community_zone_comes_from_settings_then_the_schedule() -> None:
    assert community_tz("America/Santiago", None) == ZoneInfo("America/Santiago")
    windows = Schedule("windows", tz_minutes=-240)
    assert community_tz(None, windows).utcoffset(None) == timedelta(hours=-4)
    assert community_tz(None, Schedule("open")) is UTC
    assert community_tz(None, None) is UTC
    assert Settings(timezone="Europe/Berlin").timezone == "Europe/Berlin"
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Settings(timezone="Mars/Olympus")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    offset_min=st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15),
    powers=st.lists(st.one_of(st.none(), st.floats(0, 10_000)), min_size=1, max_size=300),
    counts=st.integers(1, 15),
)
def test_local_days_keep_every_reading_and_watt_hour(
    offset_min: int, powers: list[float | None], counts: int
) -> None:
    """However the day is cut, summing 15-min buckets into local days keeps the readings
    and the energy, and every day starts at a local midnight."""
    tz = timezone(timedelta(minutes=offset_min))
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    quarter = [
        Bucket("h1", "meter", t0 + timedelta(minutes=15 * k), counts, None, None, p, None, 0.0)
        for k, p in enumerate(powers)
    ]
    now = t0 + timedelta(days=10)
    days = local_days(quarter, tz, Resolution.MIN15, now)
    assert sum(d.n for d in days) == counts * len(powers)
    total = sum(bucket_energy_wh(b, Resolution.MIN15, now) for b in quarter)
    assert sum(d.energy_wh for d in days) == pytest.approx(total, rel=1e-9, abs=1e-6)
    for d in days:
        local = d.start.astimezone(tz)
        assert (local.hour, local.minute) == (0, 0)
    assert [d.start for d in days] == sorted({d.start for d in days})
    known = [p for p in powers if p is not None]
    means = [d.p for d in days if d.p is not None]
    if known:
        assert min(known) - 1e-6 <= min(means) and max(means) <= max(known) + 1e-6
