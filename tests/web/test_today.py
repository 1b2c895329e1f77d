"""Today's energy kept incrementally equals a full recompute; the live cache makes a fixed
number of store queries per refresh however many houses there are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.core.clock import Clock
from gridpeer.store.base import Resolution, Sample
from gridpeer.store.factory import open_store
from gridpeer.web.live import LiveCache
from gridpeer.web.models import HouseInfo, HouseKind
from gridpeer.web.today import TodayEnergy, TodayEnergyTracker, day_energy

CHILE = timezone(timedelta(hours=-4))
T0 = datetime(2026, 3, 10, 1, 30, tzinfo=UTC)  # 21:30 in Chile: the local day ends soon
HOUSES = ("h1", "h2", "h3")

_reading = st.tuples(
    st.sampled_from(HOUSES),
    st.sampled_from(["meter", "pv", "bess"]),
    st.integers(0, 1800),  # lateness, s: at most the tracker's recheck (30 min)
    st.integers(-4000, 4000),  # p, W
    st.integers(-4000, 4000),  # p_grid, W
)
_step = st.tuples(st.integers(1, 2400), st.lists(_reading, max_size=12))


def _fields(e: TodayEnergy) -> list[float]:
    return [e.load_wh, e.pv_wh, e.import_wh, e.export_wh]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(_step, min_size=1, max_size=25),
    tz=st.sampled_from([UTC, CHILE]),
    full_every=st.sampled_from([3, 10_000]),
)
def test_incremental_energy_equals_a_full_recompute(
    steps: list[tuple[int, list[tuple[str, str, int, int, int]]]],
    tz: timezone,
    full_every: int,
) -> None:
    store = open_store("sqlite:///:memory:")
    tracker = TodayEnergyTracker(store, tz, full_every=full_every)
    now = T0
    for advance, readings in steps:
        now += timedelta(seconds=advance)
        store.write(
            [
                Sample(h, d, now - timedelta(seconds=lag), 230.0, 1.0, float(p), p_grid=float(g))
                for h, d, lag, p, g in readings
            ]
        )
        got = tracker.update(now)
        local = now.astimezone(tz)
        midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
        want = day_energy(store.history_all(midnight, now, Resolution.MIN15), now)
        for house in HOUSES:
            g, w = got.get(house, TodayEnergy()), want.get(house, TodayEnergy())
            assert _fields(g) == pytest.approx(_fields(w), rel=1e-9, abs=1e-6)
    assert tracker.queries == len(steps)  # one store query per update
    store.close()


def test_live_cache_queries_do_not_grow_with_houses_and_match_the_old_path() -> None:
    store = open_store("sqlite:///:memory:")
    houses = [
        HouseInfo(id=f"h{k}", name=f"House {k}", kind=HouseKind.PV_BESS) for k in range(1, 41)
    ]
    t = datetime(2026, 3, 10, 15, tzinfo=UTC)
    store.write(
        Sample(h.id, d, t - timedelta(minutes=m), 230.0, 1.0, 100.0 + m + k, p_grid=50.0 - m)
        for k, h in enumerate(houses)
        for d in ("meter", "pv", "bess")
        for m in range(0, 300, 2)
    )
    clock = Clock(start=t, speed=1e-9)  # effectively frozen
    cache = LiveCache(store, clock, houses, "test")
    assert cache.queries == 2  # latest values + one history_all
    cache.refresh()
    assert cache.queries == 4
    new = cache.compute()
    before = cache.queries
    old = cache.compute_per_house()
    assert cache.queries - before == 1 + 3 * len(houses)
    assert [r.id for r in new.houses] == [r.id for r in old.houses]
    for a, b in zip(new.houses, old.houses, strict=True):
        assert a.today_load_wh > 0 and a.today_pv_wh > 0
        assert a.model_dump(
            exclude={"today_load_wh", "today_pv_wh", "today_import_wh", "today_export_wh"}
        ) == b.model_dump(
            exclude={"today_load_wh", "today_pv_wh", "today_import_wh", "today_export_wh"}
        )
        assert [a.today_load_wh, a.today_pv_wh, a.today_import_wh, a.today_export_wh] == (
            pytest.approx([b.today_load_wh, b.today_pv_wh, b.today_import_wh, b.today_export_wh])
        )
    store.close()
