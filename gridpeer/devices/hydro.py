"""Run-of-river micro-hydro: river flow → electric power through a turbine curve.

``P = ρ · g · H · Q_t · η(Q_t / Q_design)`` (W) with water density ρ = 1000 kg/m³,
g = 9.81 m/s², net head ``H`` (m) and turbine flow ``Q_t = min(Q, Q_design)`` (m³/s):
the intake takes at most the design flow and leaves a residual flow (``residual_m3s``)
in the river. Below the turbine's minimum part load (``MIN_PART_LOAD`` of design
flow) it stops. The efficiency curve ``η`` is that of a cross-flow turbine, flat
over part load (points below; peak 0.80, about 0.65 at 20 % flow): assumed values of
the shape small-hydro guides show for cross-flow turbines, not a manufacturer's curve;
a generator/drive efficiency of 0.9 multiplies it.

Flow (m³/s) per slot comes from a seeded run-of-river model: a seasonal mean
``mean_m3s · (1 + seasonal_amp · cos(2π (d − wettest_doy) / 365.25))`` times a
log-normal daily factor following an AR(1) across days (φ = 0.9, σ 0.3); constant
within a day. Or give a measured flow series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
RHO, G = 1000.0, 9.81
GENERATOR_EFF = 0.9
MIN_PART_LOAD = 0.1
PART_LOAD = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
CROSS_FLOW_EFF = (0.55, 0.65, 0.72, 0.76, 0.78, 0.79, 0.80, 0.80, 0.79, 0.78)


def turbine_efficiency(part_load: F64) -> F64:
    """Cross-flow turbine efficiency at ``part_load`` = Q_t / Q_design (0 below 10 %)."""
    x = np.asarray(part_load, dtype=np.float64)
    eff = np.interp(x, PART_LOAD, CROSS_FLOW_EFF)
    out: F64 = np.where(x < MIN_PART_LOAD, 0.0, eff)
    return out


def hydro_power_w(
    flow_m3s: F64, head_m: F64, design_m3s: F64, residual_m3s: F64 | float = 0.0
) -> F64:
    """Electric power per plant and slot, W. ``flow_m3s`` shape ``(n, slots)`` or
    ``(slots,)``; the other arguments per plant, shape ``(n,)``."""
    design = np.asarray(design_m3s, dtype=np.float64)[:, None]
    avail = np.clip(np.asarray(flow_m3s, dtype=np.float64) - residual_m3s, 0.0, None)
    q = np.minimum(avail, design)
    part = np.divide(q, design, out=np.zeros(np.broadcast(q, design).shape), where=design > 0)
    eta = turbine_efficiency(part) * GENERATOR_EFF
    out: F64 = RHO * G * np.asarray(head_m, dtype=np.float64)[:, None] * q * eta
    return out


@dataclass
class RiverFlow:
    """Seeded run-of-river flow, m³/s (see the module docstring)."""

    start: date
    seed: int
    mean_m3s: float = 0.05
    seasonal_amp: float = 0.5
    wettest_doy: int = 180
    sigma: float = 0.3
    _log: list[float] = field(default_factory=list, repr=False)

    def day(self, day: date) -> F64:
        """Flow in each UTC slot of ``day``, m³/s, shape ``(96,)`` (constant in a day)."""
        index = (day - self.start).days
        if index < 0:
            raise ValueError(f"{day} is before the flow model's start {self.start}")
        while len(self._log) <= index:
            k = len(self._log)
            rng = np.random.default_rng([self.seed, 31, k])
            prev = self._log[-1] if self._log else 0.0
            self._log.append(0.9 * prev + self.sigma * math.sqrt(1 - 0.81) * rng.standard_normal())
        doy = day.timetuple().tm_yday
        season = 1.0 + self.seasonal_amp * math.cos(2 * math.pi * (doy - self.wettest_doy) / 365.25)
        q = self.mean_m3s * season * math.exp(self._log[index] - self.sigma**2 / 2)
        return np.full(96, q)
