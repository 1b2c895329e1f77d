"""Sky model: clear-sky irradiance with seeded clouds."""

from __future__ import annotations

from datetime import date, timedelta

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
