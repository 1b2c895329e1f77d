"""The Store contract, run against SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridpeer.store.base import Bucket, Nonce, NonceLimits, Resolution, Sample, Store
from gridpeer.store.factory import open_store

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/t.db")
    else:
        s = open_store(request.getfixturevalue("postgres_url"))
    yield s
    s.close()


def meter(house: str, sec: float, p: float = 100.0, e_wh: int = 0) -> Sample:
    return Sample(house, "meter", T0 + timedelta(seconds=sec), 230.0, p / 230.0, p, e_wh, -p)


def test_write_is_idempotent_on_house_device_ts(store: Store) -> None:
    batch = [meter("h1", k) for k in range(10)]
    assert store.write(batch) == 10
    assert store.write([*batch[5:], meter("h1", 10)]) == 1
    assert store.write(batch + batch) == 0
    assert store.count() == 11
    assert store.count(house="h1", device="meter") == 11
    assert store.count(house="h2") == 0


def test_duplicates_inside_one_batch_are_stored_once(store: Store) -> None:
    assert store.write([meter("h1", 1), meter("h1", 1), meter("h2", 1)]) == 2
    assert store.count() == 2


def test_latest_per_house_and_device(store: Store) -> None:
    store.write([meter("h1", k, p=k) for k in range(5)] + [meter("h2", 3, p=7)])
    store.write([meter("h1", 1, p=99)])  # older duplicate does not replace latest
    bess = Sample("h1", "bess", T0, 51.2, -2.0, -102.4, soc=0.5)
    store.write([bess])
    latest = {(s.house, s.device): s for s in store.latest()}
    assert latest[("h1", "meter")].p == 4
    assert latest[("h1", "meter")].ts == T0 + timedelta(seconds=4)
    assert latest[("h2", "meter")].p == 7
    assert latest[("h1", "bess")] == bess
    assert [s.device for s in store.latest("h1")] == ["bess", "meter"]
    assert store.houses() == ["h1", "h2"]


def test_raw_history_is_half_open_and_sorted(store: Store) -> None:
    store.write([meter("h1", k, p=k) for k in reversed(range(10))])
    got = store.history("h1", "meter", T0 + timedelta(seconds=2), T0 + timedelta(seconds=5))
    assert [b.p for b in got] == [2, 3, 4]
    assert all(b.n == 1 and b.start.tzinfo is not None for b in got)


def test_aggregates_one_minute_fifteen_minutes_and_day(store: Store) -> None:
    # 1 W... 30 min of one reading per 10 s at 600 W, then 30 min at 1200 W
    samples = [meter("h1", s, p=600.0 if s < 1800 else 1200.0) for s in range(0, 3600, 10)]
    store.write(samples[:100])
    store.write(samples[100:])
    end = T0 + timedelta(days=1)
    m1 = store.history("h1", "meter", T0, end, Resolution.MIN1)
    assert len(m1) == 60 and all(b.n == 6 for b in m1)
    assert m1[0].p == pytest.approx(600.0)
    assert m1[0].energy_wh == pytest.approx(10.0)  # 600 W for 1 min
    m15 = store.history("h1", "meter", T0, end, Resolution.MIN15)
    assert [b.p for b in m15] == pytest.approx([600.0, 600.0, 1200.0, 1200.0])
    assert m15[2].energy_wh == pytest.approx(300.0)
    day = store.history("h1", "meter", T0 - timedelta(days=1), end, Resolution.DAY)
    assert len(day) == 1 and day[0].n == 360
    assert day[0].start == datetime(2026, 6, 1, tzinfo=UTC)
    assert day[0].p == pytest.approx(900.0)
    assert day[0].v == pytest.approx(230.0) and day[0].soc is None


def test_retention_deletes_raw_but_keeps_aggregates(store: Store) -> None:
    store.write([meter("h1", s) for s in range(0, 600, 60)])
    deleted = store.apply_retention(T0 + timedelta(seconds=300))
    assert deleted == 5
    assert store.count() == 5
    assert len(store.history("h1", "meter", T0, T0 + timedelta(hours=1), Resolution.MIN1)) == 10


def test_retention_setting_purges_automatically(tmp_path: Path) -> None:
    s = open_store(f"sqlite:///{tmp_path}/r.db", retention=timedelta(hours=1))
    s.write([meter("h1", 0)])
    s.write([meter("h1", 7200)])
    assert s.count() == 1
    s.close()


def test_naive_timestamp_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone"):
        store.write([Sample("h1", "meter", datetime(2026, 1, 1), 230.0)])
    assert store.count() == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 400)), max_size=30),
        max_size=6,
    )
)
def test_counts_equal_distinct_keys_whatever_the_batching(
    tmp_path: Path, batches: list[list[tuple[str, int]]]
) -> None:
    s = open_store(":memory:")
    inserted = sum(s.write([meter(h, k) for h, k in batch]) for batch in batches)
    keys = {key for batch in batches for key in batch}
    assert inserted == len(keys) == s.count()
    day = [
        b
        for h in ("a", "b")
        for b in s.history(
            h, "meter", T0 - timedelta(days=1), T0 + timedelta(days=1), Resolution.DAY
        )
    ]
    assert sum(b.n for b in day) == len(keys)
    s.close()


def _same(a: Sequence[Bucket], b: Sequence[Bucket]) -> bool:
    """Equal buckets, means up to float summation order (PostgreSQL may sum differently)."""

    def key(x: Bucket) -> tuple[object, ...]:
        return (x.house, x.device, x.start, x.n)

    def nums(x: Bucket) -> list[float]:
        return [-1e99 if v is None else v for v in (x.v, x.i, x.p, x.soc, x.energy_wh, x.p_grid)]

    return [key(x) for x in a] == [key(y) for y in b] and all(
        nums(x) == pytest.approx(nums(y), rel=1e-9, abs=1e-9) for x, y in zip(a, b, strict=True)
    )


def test_history_all_gives_every_house_and_device_in_one_call(store: Store) -> None:
    pv = [Sample("h2", "pv", T0 + timedelta(minutes=m), 300.0, 1.0, 300.0) for m in range(40)]
    store.write([meter("h1", 60 * m, p=100.0 + m) for m in range(40)] + pv)
    store.write([meter("h3", -3600, p=5.0)])  # before the range: absent
    end = T0 + timedelta(minutes=30)
    got = store.history_all(T0, end, Resolution.MIN15)
    assert set(got) == {("h1", "meter"), ("h2", "pv")}
    for (house, device), buckets in got.items():
        assert _same(buckets, store.history(house, device, T0, end, Resolution.MIN15))
    assert [b.n for b in got[("h2", "pv")]] == [15, 15]
    with pytest.raises(ValueError, match="raw"):
        store.history_all(T0, end, Resolution.RAW)


_READINGS = st.lists(
    st.tuples(
        st.sampled_from(["h1", "h2", "h10"]),
        st.sampled_from(["meter", "pv", "bess"]),
        st.integers(0, 3 * 3600),
        st.integers(-3000, 3000),
    ),
    max_size=40,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(readings=_READINGS, lo=st.integers(0, 3 * 3600), span=st.integers(0, 3 * 3600))
def test_history_all_equals_history_per_house_and_device(
    store: Store, readings: list[tuple[str, str, int, int]], lo: int, span: int
) -> None:
    store.write(
        [Sample(h, d, T0 + timedelta(seconds=t), 230.0, 1.0, float(p)) for h, d, t, p in readings]
    )
    start, end = T0 + timedelta(seconds=lo), T0 + timedelta(seconds=lo + span)
    for res in (Resolution.MIN1, Resolution.MIN15):
        every = store.history_all(start, end, res)
        for h in ("h1", "h2", "h10"):
            for d in ("meter", "pv", "bess"):
                one = list(store.history(h, d, start, end, res))
                assert _same(every.get((h, d), []), one)


def _nonce(n: str, client: str = "10.0.0.1", address: str = "0xa", exp: int = 1000) -> Nonce:
    return Nonce(n, address, client, f"message {n}", exp)


def test_nonces_are_taken_once_and_expire(store: Store) -> None:
    limits = NonceLimits()
    assert store.add_nonce(_nonce("n1"), 100, limits) is None
    assert store.add_nonce(_nonce("n2", exp=200), 100, limits) is None
    assert store.take_nonce("n1", 150) == _nonce("n1")
    assert store.take_nonce("n1", 150) is None  # single use
    assert store.take_nonce("n2", 200) is None  # expired
    assert store.take_nonce("unknown", 0) is None


def test_nonce_limits_per_client_and_address(store: Store) -> None:
    limits = NonceLimits(per_client=3, per_address=2)
    assert store.add_nonce(_nonce("a1"), 0, limits) is None
    assert store.add_nonce(_nonce("a2"), 0, limits) is None
    assert "for 0xa" in str(store.add_nonce(_nonce("a3"), 0, limits))
    assert store.add_nonce(_nonce("b1", address="0xb"), 0, limits) is None
    assert "from 10.0.0.1" in str(store.add_nonce(_nonce("b2", address="0xb"), 0, limits))
    assert store.add_nonce(_nonce("c1", client="10.0.0.2"), 0, limits) is None
    assert store.add_nonce(_nonce("a4", exp=2000), 1000, limits) is None  # expired ones freed
    store.ping()
    assert store.unavailable() is None
