"""Sky model: clear-sky irradiance with seeded clouds."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.profiles.site import VALPARAISO, Site
from gridpeer.profiles.sky import DayClass, _sky_day, day_classes, plane_of_array, sky_day

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(day=days, seed=st.integers(0, 2**32), tilt=st.floats(0, 90), azimuth=st.floats(0, 359.9))
def test_cloudy_never_exceeds_clear_sky_and_night_is_dark(
    day: date, seed: int, tilt: float, azimuth: float
) -> None:
    sky = sky_day(VALPARAISO, day, seed)
    cloudy = plane_of_array(sky, tilt, azimuth)[0]
    clear = plane_of_array(sky, tilt, azimuth, clear_sky=True)[0]
    assert np.all(cloudy >= 0.0)
    assert np.all(cloudy <= clear + 1e-9)
    night = sky.zenith_deg >= 90.0
    assert night.any() and np.all(cloudy[night] == 0.0)
    assert np.all((sky.kc >= 0.05) & (sky.kc <= 1.0))
    assert np.all(sky.ghi <= sky.ghi_cs + 1e-9)


def test_same_seed_same_sky_and_seeds_differ() -> None:
    day = date(2025, 2, 3)
    a = sky_day(VALPARAISO, day, 11)
    fresh = _sky_day.__wrapped__(Site(), day, 11)  # recomputed, not from the cache
    np.testing.assert_array_equal(a.kc, fresh.kc)
    np.testing.assert_array_equal(a.ghi, fresh.ghi)
    other = [sky_day(VALPARAISO, day, s).kc for s in range(12, 16)]
    assert all(not np.array_equal(a.kc, o) for o in other)


def test_days_differ_realistically() -> None:
    start = date(2025, 1, 1)
    energy = [
        float(sky_day(VALPARAISO, start + timedelta(days=i), 5).ghi.sum() / 60.0) for i in range(30)
    ]
    assert len(set(energy)) == 30  # every day differs
    assert max(energy) > 7_000.0  # a clear summer day, Wh/m²
    assert min(energy) < 0.7 * max(energy)  # and cloudier ones


def test_weather_classes_follow_a_plausible_climate() -> None:
    classes = np.concatenate([day_classes(2025, s) for s in range(10)])
    shares = np.bincount(classes, minlength=3) / classes.size
    assert 0.4 < shares[DayClass.CLEAR] < 0.75
    assert 0.05 < shares[DayClass.OVERCAST] < 0.3
    # persistence: consecutive days repeat the class more often than chance
    same = np.mean(classes[1:] == classes[:-1])
    assert same > float(np.sum(shares**2)) + 0.05


def test_bad_site_and_plane_are_rejected() -> None:
    with pytest.raises(ValueError, match="latitude"):
        Site(latitude=-95.0)
    with pytest.raises(ValueError, match="tilt"):
        plane_of_array(sky_day(VALPARAISO, date(2025, 1, 1), 0), 95.0, 0.0)


def test_formulas_match_pvlib_and_the_disk_cache_is_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pvlib
    from scipy.signal import lfilter

    from gridpeer.profiles.sky import _ar1, _compute_clear_sky_day, aoi_projection, clear_sky_day

    rng = np.random.default_rng(3)
    tilt, az = rng.uniform(0, 90, (50, 1)), rng.uniform(0, 360, (50, 1))
    zen, saz = rng.uniform(0, 180, 1440), rng.uniform(0, 360, 1440)
    np.testing.assert_array_equal(
        aoi_projection(tilt, az, zen, saz), pvlib.irradiance.aoi_projection(tilt, az, zen, saz)
    )
    x = rng.standard_normal(1440)
    np.testing.assert_allclose(_ar1(x, 0.3, 0.95), lfilter([0.3], [1.0, -0.95], x), rtol=1e-12)
    # the cache: first call computes and writes, second reads; both equal pvlib's values
    monkeypatch.setenv("GRIDPEER_CACHE_DIR", str(tmp_path))
    day = date(2025, 3, 4)
    first = clear_sky_day(VALPARAISO, day)
    files = list((tmp_path / "sky").glob("clear-*.npz"))
    assert len(files) == 1 and f"pvlib{pvlib.__version__}" in files[0].name
    again = clear_sky_day(VALPARAISO, day)
    direct = _compute_clear_sky_day(VALPARAISO, day)
    for key, values in direct.items():
        np.testing.assert_array_equal(first[key], values)
        np.testing.assert_array_equal(again[key], values)
    files[0].write_bytes(b"not a zip")  # a damaged cache file is computed again
    np.testing.assert_array_equal(clear_sky_day(VALPARAISO, day)["ghi"], direct["ghi"])
    monkeypatch.setenv("GRIDPEER_SKY_CACHE", "0")
    np.testing.assert_array_equal(
        clear_sky_day(VALPARAISO, date(2025, 3, 5))["dni"],
        _compute_clear_sky_day(VALPARAISO, date(2025, 3, 5))["dni"],
    )
    assert len(list((tmp_path / "sky").glob("clear-*.npz"))) == 1
