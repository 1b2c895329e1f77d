"""Household load profiles from the richardsonpy bank."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from gridpeer.profiles.load import LoadBank, generate_bank, house_loads_w, richardson_bank


@pytest.fixture(scope="module")
def bank() -> LoadBank:
    return richardson_bank(households=3, days=7, seed=0)


def test_bank_is_seeded_and_reproducible(bank: LoadBank) -> None:
    fresh = generate_bank(3, 7, 0)  # recomputed, not from the cache
    np.testing.assert_array_equal(bank.profiles_w, fresh.profiles_w)
    assert bank.profiles_w.shape == (3, 7, 1440)
    assert bank.profiles_w.dtype == np.float32
    assert np.all(bank.profiles_w >= 0.0)
    # households differ, and a real household has a varying load
    assert not np.array_equal(bank.profiles_w[0], bank.profiles_w[1])
    assert float(bank.profiles_w[0].std()) > 10.0


def test_bank_seed_changes_households() -> None:
    a = generate_bank(1, 7, 1)
    b = generate_bank(1, 7, 2)
    assert not np.array_equal(a.profiles_w, b.profiles_w)


def test_bank_disk_cache_round_trip(tmp_path: Path, bank: LoadBank) -> None:
    stored = richardson_bank(households=3, days=7, seed=0, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    loaded = richardson_bank(households=3, days=7, seed=0, cache_dir=tmp_path)
    np.testing.assert_array_equal(stored.profiles_w, loaded.profiles_w)
    np.testing.assert_array_equal(loaded.profiles_w, bank.profiles_w)


def test_bank_disk_cache_is_used_and_corrupt_files_are_regenerated(tmp_path: Path) -> None:
    from gridpeer.profiles import load

    richardson_bank(households=1, days=7, seed=5, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    load._BANKS.clear()
    reloaded = richardson_bank(households=1, days=7, seed=5, cache_dir=tmp_path)
    np.testing.assert_array_equal(reloaded.profiles_w, generate_bank(1, 7, 5).profiles_w)
    load._BANKS.clear()
    path.write_bytes(b"not a zip")
    again = richardson_bank(households=1, days=7, seed=5, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.profiles_w, reloaded.profiles_w)
    assert path.read_bytes()[:2] == b"PK"  # rewritten as a valid .npz


def _loads(bank: LoadBank, day: date, seed: int, step_s: int = 60) -> np.ndarray:
    houses = 6
    return house_loads_w(
        bank,
        day,
        bank_household=np.arange(houses) % bank.households,
        shift_min=np.array([-45, -10, 0, 5, 30, 45]),
        daily_wh=np.full(houses, 8_000.0),
        utc_offset_h=-4.0,
        seed=seed,
        step_s=step_s,
    )


def test_loads_are_reproducible_and_differ_per_house(bank: LoadBank) -> None:
    day = date(2025, 3, 4)
    a = _loads(bank, day, seed=9)
    np.testing.assert_array_equal(a, _loads(bank, day, seed=9))
    assert a.shape == (6, 1440) and a.dtype == np.float32
    for i in range(6):
        for j in range(i + 1, 6):
            assert not np.array_equal(a[i], a[j])
    assert not np.array_equal(a, _loads(bank, day, seed=10))
    assert not np.array_equal(a, _loads(bank, date(2025, 3, 5), seed=9))


def test_daily_energy_matches_target_on_average(bank: LoadBank) -> None:
    days = [date(2025, 1, d) for d in range(1, 29)]
    energy = np.array([_loads(bank, d, seed=1, step_s=900).sum(axis=1) / 4.0 for d in days])
    assert np.all(energy > 0.0)
    assert energy.mean() == pytest.approx(8_000.0, rel=0.2)


def test_resolution_keeps_mean_power_up_to_noise(bank: LoadBank) -> None:
    day = date(2025, 6, 1)
    minute = house_loads_w(
        bank, day, [0], [0], [5_000.0], utc_offset_h=-4.0, seed=3, step_s=60, noise=0.0
    )
    quarter = house_loads_w(
        bank, day, [0], [0], [5_000.0], utc_offset_h=-4.0, seed=3, step_s=900, noise=0.0
    )
    np.testing.assert_allclose(minute.reshape(1, 96, 15).mean(axis=2), quarter, rtol=1e-5)


def test_bad_arguments_are_rejected(bank: LoadBank) -> None:
    day = date(2025, 1, 1)
    with pytest.raises(ValueError, match="bank household"):
        house_loads_w(bank, day, [7], [0], [1.0], utc_offset_h=0.0, seed=0)
    with pytest.raises(ValueError, match="shift"):
        house_loads_w(bank, day, [0], [90], [1.0], utc_offset_h=0.0, seed=0)
    with pytest.raises(ValueError, match="step_s"):
        house_loads_w(bank, day, [0], [0], [1.0], utc_offset_h=0.0, seed=0, step_s=7)
    with pytest.raises(ValueError, match="7 days"):
        richardson_bank(households=1, days=3)


def test_loads_follow_the_bank_in_local_time(bank: LoadBank) -> None:
    """Reference check, minute by minute: UTC minute m of a house with offset o and shift s
    shows bank minute (m + o + s) of the bank day picked for that local date."""
    from datetime import timedelta

    from gridpeer.profiles.load import _local_day_choice

    day = date(2025, 5, 9)
    household = np.array([0, 1, 2, 1])
    shift = np.array([-45, 0, 17, 45])
    daily = np.array([4_000.0, 6_000.0, 8_000.0, 10_000.0])
    for offset_h in (-4.0, 0.0, 5.5, 13.0):
        got = house_loads_w(
            bank, day, household, shift, daily, utc_offset_h=offset_h, seed=8, noise=0.0
        )
        scale = daily / bank.mean_daily_wh[household]
        for h in range(4):
            for m in (0, 1, 239, 240, 700, 1439):
                local = m + round(offset_h * 60) + shift[h]
                k, minute = divmod(local, 1440)
                chosen = _local_day_choice(bank, day + timedelta(days=int(k)), 4, 8)[h]
                expected = bank.profiles_w[household[h], chosen, minute] * np.float32(scale[h])
                assert got[h, m] == pytest.approx(float(expected), rel=1e-5)
