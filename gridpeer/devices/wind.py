"""Small wind turbines: wind speed at hub height → electric power via a power curve.

The power curve is windpowerlib's (oedb turbine library, shipped with the package),
normalised to its nominal power and scaled to the turbine's ``rated_w``: the library
holds utility-scale types only (the smallest is the Enercon E-53/800), so a small
turbine is modelled with that curve's shape (cut-in at the curve's first non-zero
point, ~2 m/s; rated near 12 m/s; cut-out after the last point, 25 m/s: power 0 above
it, the turbine's storm shutdown). A limit: real small turbines often cut in at
3 m/s and reach rated power later. Power is linearly interpolated between curve points.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
DEFAULT_TYPE = "E-53/800"


@lru_cache(maxsize=4)
def power_curve(turbine_type: str = DEFAULT_TYPE) -> tuple[F64, F64]:
    """``(wind speeds m/s, power per W rated)`` of a windpowerlib turbine type."""
    import warnings

    from windpowerlib import WindTurbine

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = WindTurbine(turbine_type=turbine_type, hub_height=50)
    curve = t.power_curve
    v = curve["wind_speed"].to_numpy(dtype=np.float64)
    p = curve["value"].to_numpy(dtype=np.float64)
    return v, np.clip(p / float(p.max()), 0.0, 1.0)


def cut_in_out_ms(turbine_type: str = DEFAULT_TYPE) -> tuple[float, float]:
    """Cut-in (first speed with power) and cut-out (last curve point) wind speeds, m/s."""
    v, p = power_curve(turbine_type)
    return float(v[np.flatnonzero(p > 0)[0]]), float(v[-1])


def wind_power_w(wind_ms: F64, rated_w: F64, turbine_type: str = DEFAULT_TYPE) -> F64:
    """Electric power per turbine and slot, W: ``rated_w[:, None]`` × the normalised
    curve at ``wind_ms`` (shape ``(slots,)`` shared by the site, or ``(n, slots)``)."""
    v, p = power_curve(turbine_type)
    cut_in, cut_out = cut_in_out_ms(turbine_type)
    w = np.asarray(wind_ms, dtype=np.float64)
    frac = np.interp(w, v, p, left=0.0, right=0.0)
    frac = np.where((w < cut_in) | (w > cut_out), 0.0, frac)
    out: F64 = np.asarray(rated_w, dtype=np.float64)[:, None] * frac
    return out
