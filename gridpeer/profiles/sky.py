"""One day of sky over a site: clear-sky irradiance, seeded cloudiness, air temperature.

Everything is computed at a 1-minute base resolution for a UTC day and is a pure
function of ``(site, day, seed)``: the same day gives the same sky whatever chunking
or output resolution a caller uses.

Cloudiness model: each day gets a weather class (clear / partly cloudy / overcast) from a
seeded Markov chain that starts on 1 January of the day's year (so consecutive days are
correlated), and within the day a clear-sky index ``kc`` (0..1) follows a seeded AR(1)
process whose mean, spread and time constant depend on the class. Clouds scale direct
(beam) irradiance by ``kb = clip((kc - 0.2) / 0.8, 0, 1)`` and diffuse irradiance by
``kc``, so irradiance never exceeds clear sky (cloud enhancement is not modelled).

Solar position and clear-sky irradiance come from pvlib (NREL SPA, Ineichen with the
Linke turbidity climatology). They depend only on the site and the day, so they are
kept on disk (``<cache dir>/sky/``, a 60 kB ``.npz`` per site and day, named with the
pvlib version): a run whose days are cached does not import pvlib and pandas at all
(about 1 s of start-up). ``GRIDPEER_SKY_CACHE=0`` turns the disk cache off.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import IntEnum
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gridpeer.profiles.cache import default_cache_dir
from gridpeer.profiles.site import Site

FloatArray = npt.NDArray[np.float64]

BASE_STEP_S = 60
"""Internal resolution of sky, load and PV models, seconds."""
STEPS_PER_DAY = 86_400 // BASE_STEP_S


class DayClass(IntEnum):
    """Weather class of one day."""

    CLEAR = 0
    PARTLY_CLOUDY = 1
    OVERCAST = 2


# Day-to-day transition probabilities (rows: today, columns: tomorrow).
_TRANSITIONS = np.array(
    [
        [0.75, 0.18, 0.07],
        [0.35, 0.45, 0.20],
        [0.25, 0.35, 0.40],
    ]
)
# Per class: mean kc, standard deviation of kc, AR(1) time constant in minutes.
_KC_PARAMS = {
    DayClass.CLEAR: (0.97, 0.03, 60.0),
    DayClass.PARTLY_CLOUDY: (0.70, 0.35, 8.0),
    DayClass.OVERCAST: (0.30, 0.12, 45.0),
}
_KC_MIN = 0.05
_ALBEDO = 0.2
_CLEAR_FIELDS = ("zenith", "azimuth", "ghi", "dni", "dhi")


@dataclass(frozen=True)
class SkyDay:
    """Sky over a site for one UTC day at 1-minute resolution (arrays of 1440 values).

    Attributes:
        start: UTC midnight of the day.
        day_class: weather class of the day.
        zenith_deg: solar zenith angle, degrees.
        azimuth_deg: solar azimuth, degrees east of north.
        ghi_cs, dni_cs, dhi_cs: clear-sky global horizontal, direct normal and diffuse
            horizontal irradiance, W/m².
        kc: clear-sky index, 0..1 (1 = clear sky).
        temp_air_c: air temperature, °C.
    """

    start: datetime
    day_class: DayClass
    zenith_deg: FloatArray
    azimuth_deg: FloatArray
    ghi_cs: FloatArray
    dni_cs: FloatArray
    dhi_cs: FloatArray
    kc: FloatArray
    temp_air_c: FloatArray

    @property
    def beam_factor(self) -> FloatArray:
        """Fraction of clear-sky direct irradiance that passes the clouds, 0..1."""
        return np.clip((self.kc - 0.2) / 0.8, 0.0, 1.0)

    @property
    def ghi(self) -> FloatArray:
        """Global horizontal irradiance under the day's clouds, W/m²."""
        cosz = np.clip(np.cos(np.radians(self.zenith_deg)), 0.0, None)
        ghi: FloatArray = self.beam_factor * self.dni_cs * cosz + self.kc * self.dhi_cs
        return ghi


def day_classes(year: int, seed: int) -> npt.NDArray[np.int64]:
    """Weather class of every day of ``year`` (index 0 = 1 January) for ``seed``."""
    return _day_classes(year, seed).copy()


@lru_cache(maxsize=64)
def _day_classes(year: int, seed: int) -> npt.NDArray[np.int64]:
    rng = np.random.default_rng([seed, year, 0])
    draws = rng.random(367)
    cumulative = np.cumsum(_TRANSITIONS, axis=1)
    stationary = np.linalg.matrix_power(_TRANSITIONS, 64)[0]
    classes = np.empty(366, dtype=np.int64)
    state = int(np.searchsorted(np.cumsum(stationary), draws[366]))
    for i in range(366):
        state = int(np.searchsorted(cumulative[state], draws[i]))
        state = min(state, 2)
        classes[i] = state
    return classes


def clear_sky_index(day: date, day_class: DayClass, seed: int) -> FloatArray:
    """Seeded 1-minute clear-sky index for one day of a given class, 0.05..1."""
    mean, spread, tau_min = _KC_PARAMS[day_class]
    rng = np.random.default_rng([seed, day.toordinal(), 1])
    phi = float(np.exp(-1.0 / tau_min))
    noise = rng.standard_normal(STEPS_PER_DAY)
    noise[0] = noise[0] / np.sqrt(1.0 - phi**2)  # start in the stationary state
    ar1 = _ar1(noise, float(np.sqrt(1.0 - phi**2)), phi)
    kc: FloatArray = np.clip(mean + spread * ar1, _KC_MIN, 1.0)
    return kc


def _ar1(x: FloatArray, gain: float, phi: float) -> FloatArray:
    """``y[n] = gain * x[n] + phi * y[n-1]`` from ``y[-1] = 0`` (what
    ``scipy.signal.lfilter([gain], [1, -phi], x)`` computes, without importing scipy)."""
    out = np.empty(x.size, dtype=np.float64)
    y = 0.0
    for i, v in enumerate(x.tolist()):
        y = gain * v + phi * y
        out[i] = y
    return out


@lru_cache(maxsize=1)
def _pvlib_version() -> str | None:
    """pvlib's installed version, read from its metadata (without importing pvlib)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pvlib")
    except PackageNotFoundError:  # pragma: no cover - pvlib is a dependency
        return None


def _sky_cache_path(site: Site, day: date) -> Path | None:
    """Where the clear-sky arrays of ``site`` on ``day`` are cached, or None (disabled)."""
    if os.environ.get("GRIDPEER_SKY_CACHE", "1") == "0":
        return None
    pvlib_version = _pvlib_version()
    if pvlib_version is None:  # pragma: no cover - pvlib is a dependency
        return None
    key = f"{site.latitude:.6f}_{site.longitude:.6f}_{site.altitude_m:.1f}_{day.isoformat()}"
    return default_cache_dir() / "sky" / f"clear-{key}-pvlib{pvlib_version}.npz"


def clear_sky_day(site: Site, day: date) -> dict[str, FloatArray]:
    """Solar position (degrees) and clear-sky GHI, DNI, DHI (W/m², 0 at night) of a UTC
    day at 1-minute resolution: keys ``zenith``, ``azimuth``, ``ghi``, ``dni``, ``dhi``.

    Read from the disk cache when present (bit-identical to computing it), else computed
    with pvlib and cached.
    """
    path = _sky_cache_path(site, day)
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                return {k: np.asarray(data[k], dtype=np.float64) for k in _CLEAR_FIELDS}
        except (OSError, KeyError, ValueError):
            pass  # unreadable or partial: compute it again
    arrays = _compute_clear_sky_day(site, day)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                np.savez(fh, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs time
    return arrays


def _compute_clear_sky_day(site: Site, day: date) -> dict[str, FloatArray]:
    import pandas as pd
    import pvlib

    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    times = pd.date_range(start, periods=STEPS_PER_DAY, freq=f"{BASE_STEP_S}s")
    location = pvlib.location.Location(site.latitude, site.longitude, altitude=site.altitude_m)
    with warnings.catch_warnings():  # pvlib 0.16 uses DatetimeIndex.dayofyear (pandas 3)
        warnings.simplefilter("ignore", DeprecationWarning)
        position = location.get_solarposition(times)
        clear = location.get_clearsky(times, model="ineichen", solar_position=position)
    zenith = position["zenith"].to_numpy(dtype=np.float64)
    up = zenith < 90.0  # night = geometric sun below the horizon (no refraction twilight)
    return {
        "zenith": zenith,
        "azimuth": position["azimuth"].to_numpy(dtype=np.float64),
        "ghi": np.where(up, clear["ghi"].to_numpy(dtype=np.float64), 0.0),
        "dni": np.where(up, clear["dni"].to_numpy(dtype=np.float64), 0.0),
        "dhi": np.where(up, clear["dhi"].to_numpy(dtype=np.float64), 0.0),
    }


def sky_day(site: Site, day: date, seed: int) -> SkyDay:
    """The sky over ``site`` on UTC day ``day`` for weather seed ``seed`` (cached)."""
    return _sky_day(site, day, seed)


@lru_cache(maxsize=32)
def _sky_day(site: Site, day: date, seed: int) -> SkyDay:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    clear = clear_sky_day(site, day)
    day_class = DayClass(int(_day_classes(day.year, seed)[day.timetuple().tm_yday - 1]))
    solar_hour = np.arange(STEPS_PER_DAY) / 60.0 + site.longitude / 15.0
    temp_air = site.temp_mean_c + site.temp_amplitude_c * np.cos(
        2.0 * np.pi * (solar_hour - 15.0) / 24.0
    )
    sky = SkyDay(
        start=start,
        day_class=day_class,
        zenith_deg=clear["zenith"],
        azimuth_deg=clear["azimuth"],
        ghi_cs=clear["ghi"],
        dni_cs=clear["dni"],
        dhi_cs=clear["dhi"],
        kc=clear_sky_index(day, day_class, seed),
        temp_air_c=temp_air,
    )
    for array in (sky.zenith_deg, sky.azimuth_deg, sky.ghi_cs, sky.dni_cs, sky.dhi_cs, sky.kc):
        array.flags.writeable = False  # shared by the cache
    sky.temp_air_c.flags.writeable = False
    return sky


def plane_of_array(
    sky: SkyDay,
    tilt_deg: npt.ArrayLike,
    azimuth_deg: npt.ArrayLike,
    *,
    clear_sky: bool = False,
) -> FloatArray:
    """Irradiance on tilted planes, W/m², shape (planes, 1440).

    Isotropic sky model. ``tilt_deg`` 0..90 from horizontal, ``azimuth_deg`` the
    direction the plane faces in degrees east of north (0 = north, the equator-facing
    choice in the southern hemisphere). With ``clear_sky`` the clouds are ignored.
    """
    tilt = np.atleast_1d(np.asarray(tilt_deg, dtype=np.float64))[:, None]
    azimuth = np.atleast_1d(np.asarray(azimuth_deg, dtype=np.float64))[:, None]
    if tilt.shape != azimuth.shape:
        raise ValueError("tilt and azimuth must have the same number of planes")
    if np.any((tilt < 0.0) | (tilt > 90.0)):
        raise ValueError("tilt must be within 0..90 degrees")
    kb = np.ones_like(sky.kc) if clear_sky else sky.beam_factor
    kd = np.ones_like(sky.kc) if clear_sky else sky.kc
    dni = kb * sky.dni_cs
    dhi = kd * sky.dhi_cs
    cosz = np.clip(np.cos(np.radians(sky.zenith_deg)), 0.0, None)
    ghi = dni * cosz + dhi
    cos_aoi = aoi_projection(tilt, azimuth, sky.zenith_deg, sky.azimuth_deg)
    beam = dni * np.clip(cos_aoi, 0.0, None)
    cos_tilt = np.cos(np.radians(tilt))
    diffuse = dhi * (1.0 + cos_tilt) / 2.0 + ghi * _ALBEDO * (1.0 - cos_tilt) / 2.0
    poa: FloatArray = np.asarray(beam + diffuse, dtype=np.float64)
    return poa


def aoi_projection(
    surface_tilt: npt.ArrayLike,
    surface_azimuth: npt.ArrayLike,
    solar_zenith: npt.ArrayLike,
    solar_azimuth: npt.ArrayLike,
) -> FloatArray:
    """Cosine of the angle of incidence of the sun on a plane (degrees in), -1..1.

    The formula of ``pvlib.irradiance.aoi_projection`` (same operations, same result),
    here so that a cached sky needs no pvlib import.
    """
    tilt = np.radians(surface_tilt)
    zenith = np.radians(solar_zenith)
    projection = np.cos(tilt) * np.cos(zenith) + np.sin(tilt) * np.sin(zenith) * np.cos(
        np.radians(np.asarray(solar_azimuth) - np.asarray(surface_azimuth))
    )
    return np.asarray(np.clip(projection, -1, 1), dtype=np.float64)
