"""Household load profiles: a seeded bank of richardsonpy households, reused cheaply.

richardsonpy (which ships its statistics) simulates occupancy, appliances and lighting of
one household at 1-minute resolution; that costs ~0.05 s per household-day, too much for
10,000 houses. So a small **bank** of richardsonpy households × days is generated once
(seeded, cached in memory and optionally on disk), and each house draws from it:

* a fixed bank household, a fixed time shift (± up to 45 min) and its own annual energy;
* for every local day, a bank day of the same kind (weekday / weekend), chosen by a
  seeded draw that depends only on ``(seed, date)`` — so chunking never changes results;
* multiplicative noise per output step (log-normal, mean 1; applied after averaging to
  the output resolution, which keeps 10,000 houses cheap).

Bank profiles are in local civil time; :func:`house_loads_w` places them on the UTC axis
with the site's UTC offset. Powers in W, energies in Wh.
"""

from __future__ import annotations

import hashlib
import os
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gridpeer.profiles.cache import default_cache_dir as default_cache_dir  # re-export
from gridpeer.profiles.resolution import from_minutes
from gridpeer.profiles.sky import STEPS_PER_DAY

F32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

MAX_SHIFT_MIN = 45
_CHUNK = 2048  # houses per gather, bounds temporary memory
_BANK_FORMAT = 1


@dataclass(frozen=True)
class LoadBank:
    """1-minute household load profiles, W, shape (households, days, 1440), float32.

    Bank day ``i`` is a weekend day when ``i % 7`` is 5 or 6 (day 0 is a Monday).
    """

    profiles_w: F32Array

    def __post_init__(self) -> None:
        if self.profiles_w.ndim != 3 or self.profiles_w.shape[2] != STEPS_PER_DAY:
            raise ValueError("bank profiles must be shaped (households, days, 1440)")
        if self.profiles_w.shape[1] < 7:
            raise ValueError("a bank needs at least 7 days (weekdays and weekend days)")
        if np.any(self.profiles_w < 0.0):
            raise ValueError("load profiles must be >= 0 W")

    @property
    def households(self) -> int:
        """Number of bank households."""
        return int(self.profiles_w.shape[0])

    @property
    def days(self) -> int:
        """Number of days per bank household."""
        return int(self.profiles_w.shape[1])

    @cached_property
    def mean_daily_wh(self) -> npt.NDArray[np.float64]:
        """Mean daily energy of each bank household, Wh, shape (households,)."""
        daily: npt.NDArray[np.float64] = self.profiles_w.astype(np.float64).sum(axis=2) / 60.0
        return np.asarray(daily.mean(axis=1), dtype=np.float64)

    def day_indices(self, weekend: bool) -> IntArray:
        """Bank days of the given kind."""
        days = np.arange(self.days)
        picked: IntArray = days[(days % 7 >= 5) == weekend]
        return picked


def richardson_bank(
    households: int = 12,
    days: int = 7,
    seed: int = 0,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadBank:
    """A seeded bank of richardsonpy households (1 to 5 occupants each).

    Cached in memory; with ``cache_dir`` also stored as ``.npz`` there and reloaded on
    later runs. ``progress(done, total)`` is called after each household. Cost without
    cache: ~0.05 s per household-day (12 × 7 ≈ 4 s).
    """
    if households < 1 or days < 7:
        raise ValueError("need at least 1 household and 7 days")
    key = (households, days, seed)
    path = None
    if cache_dir is not None:
        path = cache_dir / f"richardson-bank-v{_BANK_FORMAT}-{households}x{days}-s{seed}.npz"
    if key not in _BANKS and path is not None and path.exists():
        stored = _load_bank(path, households, days)
        if stored is None:
            path.unlink()  # unusable (corrupt or other shape): regenerate and rewrite
        else:
            _BANKS[key] = stored
    if key not in _BANKS:
        _BANKS[key] = generate_bank(households, days, seed, progress)
    bank = _BANKS[key]
    if path is not None and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, profiles_w=bank.profiles_w)
        tmp.replace(path)
    return bank


def _load_bank(path: Path, households: int, days: int) -> LoadBank | None:
    """A bank stored by :func:`richardson_bank`, or None if the file is unusable."""
    try:
        with np.load(path) as stored:
            profiles = np.asarray(stored["profiles_w"], dtype=np.float32)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if profiles.shape != (households, days, STEPS_PER_DAY):
        return None
    profiles.flags.writeable = False
    return LoadBank(profiles)


_BANKS: dict[tuple[int, int, int], LoadBank] = {}


def generate_bank(
    households: int, days: int, seed: int, progress: Callable[[int, int], None] | None = None
) -> LoadBank:
    """Run richardsonpy for a fresh bank (no caching); see :func:`richardson_bank`."""
    import richardsonpy.classes.appliance as appliance_model
    import richardsonpy.classes.lighting as lighting_model
    import richardsonpy.classes.occupancy as occupancy_model
    import richardsonpy.classes.stochastic_el_load_wrapper as wrapper

    inputs = Path(appliance_model.__file__).parent.parent / "inputs"
    # richardsonpy draws from Python's global `random`; seed it and restore it afterwards.
    saved_state = random.getstate()
    minutes = np.arange(STEPS_PER_DAY) / 60.0
    # Outdoor irradiance for the lighting model, W/m²: a generic sunny day, 07:00-19:00.
    irradiance = np.clip(800.0 * np.sin(np.pi * (minutes - 7.0) / 12.0), 0.0, None)
    profiles = np.empty((households, days, STEPS_PER_DAY), dtype=np.float32)
    try:
        for h in range(households):
            digest = hashlib.sha256(f"{seed}:{h}".encode()).digest()
            random.seed(int.from_bytes(digest[:8], "big"))
            occupants = 1 + random.randrange(5)
            occupancy = occupancy_model.Occupancy(number_occupants=occupants, nb_days=days)
            appliances = appliance_model.Appliances(
                str(inputs / "Appliances.csv"),
                annual_consumption=0.91 * 1000.0 * (2.0 + 0.6 * occupants),
                randomize_appliances=True,
            )
            bulbs = lighting_model.load_lighting_profile(
                filename=str(inputs / "LightBulbs.csv"), index=random.randrange(100)
            )
            sim = wrapper.ElectricityProfile(appliances, bulbs)
            for d in range(days):
                power, _, _ = sim.power_sim(
                    irradiation=irradiance,
                    weekend=d % 7 >= 5,
                    day=d,
                    occupancy=occupancy.occupancy[144 * d : 144 * (d + 1)],
                )
                profiles[h, d] = np.clip(np.asarray(power, dtype=np.float64), 0.0, None)
            if progress is not None:
                progress(h + 1, households)
    finally:
        random.setstate(saved_state)
    profiles.flags.writeable = False
    return LoadBank(profiles)


def _local_day_choice(bank: LoadBank, local_day: date, houses: int, seed: int) -> IntArray:
    """Bank day each house lives on ``local_day`` (same weekday/weekend kind)."""
    candidates = bank.day_indices(local_day.weekday() >= 5)
    u = np.random.default_rng([seed, local_day.toordinal(), 2]).random(houses)
    picked: IntArray = candidates[(u * len(candidates)).astype(np.int64)]
    return picked


def house_loads_w(
    bank: LoadBank,
    day: date,
    bank_household: npt.ArrayLike,
    shift_min: npt.ArrayLike,
    daily_wh: npt.ArrayLike,
    *,
    utc_offset_h: float,
    seed: int,
    step_s: int = 60,
    noise: float = 0.15,
) -> F32Array:
    """Mean load of many houses per step of ``step_s`` s over UTC day ``day``, W, shape
    (houses, 86400 / step_s), float32.

    Per house: ``bank_household`` index into the bank, ``shift_min`` time shift (minutes,
    |shift| <= 45), ``daily_wh`` mean daily energy (Wh). ``noise`` is the log-normal sigma
    of the per-step noise. ``utc_offset_h`` places local time on UTC (local = UTC + offset).
    """
    household = np.asarray(bank_household, dtype=np.int64)
    shift = np.asarray(shift_min, dtype=np.int64)
    energy = np.asarray(daily_wh, dtype=np.float64)
    houses = household.shape[0]
    if household.ndim != 1 or shift.shape != household.shape or energy.shape != household.shape:
        raise ValueError("bank_household, shift_min and daily_wh must be 1-D of equal length")
    if np.any((household < 0) | (household >= bank.households)):
        raise ValueError(f"bank household indices must be in 0..{bank.households - 1}")
    if np.any(np.abs(shift) > MAX_SHIFT_MIN) or np.any(energy < 0.0):
        raise ValueError(f"|shift| must be <= {MAX_SHIFT_MIN} min and daily energy >= 0 Wh")
    if noise < 0.0:
        raise ValueError("noise must be >= 0")

    # Local minute (from local midnight of `day`) at which each house's UTC day starts.
    starts = round(utc_offset_h * 60.0) + shift
    first = int(np.floor_divide(starts.min(), STEPS_PER_DAY))
    last = int(np.floor_divide(starts.max() + STEPS_PER_DAY - 1, STEPS_PER_DAY))
    local_days = range(first, last + 1)
    choices = [_local_day_choice(bank, day + timedelta(days=k), houses, seed) for k in local_days]
    columns = starts - first * STEPS_PER_DAY  # start column within the strip of local days
    values = np.empty((houses, STEPS_PER_DAY), dtype=np.float32)
    for lo in range(0, houses, _CHUNK):
        part = slice(lo, lo + _CHUNK)
        # consecutive local days of each house, side by side: (chunk, days * 1440)
        strip = np.concatenate([bank.profiles_w[household[part], c[part]] for c in choices], axis=1)
        target = values[part]
        chunk_columns = columns[part]
        for column in np.unique(chunk_columns):
            rows = chunk_columns == column
            target[rows] = strip[rows, column : column + STEPS_PER_DAY]
    scale = (energy / bank.mean_daily_wh[household]).astype(np.float32)
    values *= scale[:, None]
    result: F32Array = from_minutes(values, step_s)
    if noise > 0.0:
        rng = np.random.default_rng([seed, day.toordinal(), 3])
        z = rng.standard_normal(result.shape, dtype=np.float32)
        result *= np.exp(np.float32(noise) * z - np.float32(noise**2 / 2.0))
    return result
