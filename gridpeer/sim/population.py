"""Expand a scenario's household mix into per-house parameter arrays.

Houses are assigned to groups by largest remainder of ``share * houses`` and
interleaved (round-robin over groups in proportion), so house ``h1`` .. ``hN`` mix
kinds the same way for any N. Each house's consumption level is drawn from the
scenario seed, so the same seed gives the same town.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridpeer.devices.heatpump import tank_capacity_wh
from gridpeer.sim.scenario import Scenario

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Population:
    """Per-house parameters, one entry per house (arrays of length ``n``).

    Attributes:
        ids: house ids ``h1..hN``.
        group: index of each house's household group in ``scenario.households``.
        pv_kwp: PV peak power, kWp (0 = no PV).
        battery_wh: usable battery capacity, Wh (0 = no battery).
        battery_power_w: battery charge/discharge power limit, W.
        annual_kwh: yearly consumption, kWh.
        ramping: True for ramping price strategy, False for fixed.
        ev_wh, ev_charger_w, ev_v2g, ev_min_soc: EV battery Wh (0 = none), charger W,
            V2G allowed, SoC required at departure.
        heat_pump_w, heat_loss_w_per_k, tank_wh: heat pump thermal W at A−7/W52
            (0 = none), house heat loss W/K, tank capacity Wh of heat.
        wind_w, hydro_w, hydro_head_m: wind and hydro rated W (0 = none), hydro head m.
    """

    ids: tuple[str, ...]
    group: I64
    pv_kwp: F64
    battery_wh: F64
    battery_power_w: F64
    annual_kwh: F64
    ramping: npt.NDArray[np.bool_]
    ev_wh: F64
    ev_charger_w: F64
    ev_v2g: npt.NDArray[np.bool_]
    ev_min_soc: F64
    heat_pump_w: F64
    heat_loss_w_per_k: F64
    tank_wh: F64
    wind_w: F64
    hydro_w: F64
    hydro_head_m: F64

    @property
    def n(self) -> int:
        """Number of houses."""
        return len(self.ids)


def group_counts(shares: list[float], houses: int) -> list[int]:
    """Split ``houses`` into integer counts proportional to ``shares`` (largest remainder)."""
    raw = np.asarray(shares, dtype=np.float64) * houses
    counts = np.floor(raw).astype(np.int64)
    rest = houses - int(counts.sum())
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return [int(c) for c in counts]


def _interleave(counts: list[int]) -> I64:
    """Group index per house, spreading each group evenly across the house list."""
    keys: list[tuple[float, int]] = []
    for g, c in enumerate(counts):
        keys.extend(((i + 0.5) / c, g) for i in range(c))
    keys.sort()
    return np.array([g for _, g in keys], dtype=np.int64)


def build_population(
    scenario: Scenario, houses: int | None = None, seed: int | None = None
) -> Population:
    """Per-house arrays for ``houses`` houses (default: the scenario's count).

    Args:
        scenario: the validated scenario.
        houses: number of houses (>= 1); overrides ``scenario.houses``.
        seed: random seed; overrides ``scenario.seed``.
    """
    n = scenario.houses if houses is None else houses
    if n < 1:
        raise ValueError(f"houses must be >= 1, got {n}")
    rng = np.random.default_rng([scenario.seed if seed is None else seed, 1])
    groups = scenario.households
    group = _interleave(group_counts([g.share for g in groups], n))

    def per_group(values: list[float]) -> F64:
        return np.asarray(values, dtype=np.float64)[group]

    pv_kwp = per_group([g.pv_kwp for g in groups])
    annual = per_group([g.annual_kwh for g in groups]) * rng.lognormal(0.0, 0.2, n)
    return Population(
        ids=tuple(f"h{i + 1}" for i in range(n)),
        group=group,
        pv_kwp=pv_kwp,
        battery_wh=per_group([g.battery_wh for g in groups]),
        battery_power_w=per_group([g.battery_power_w for g in groups]),
        annual_kwh=annual,
        ramping=np.asarray([g.strategy == "ramping" for g in groups], dtype=np.bool_)[group],
        ev_wh=per_group([g.ev_kwh * 1000.0 for g in groups]),
        ev_charger_w=per_group([g.ev_charger_kw * 1000.0 for g in groups]),
        ev_v2g=np.asarray([g.ev_v2g for g in groups], dtype=np.bool_)[group],
        ev_min_soc=per_group([g.ev_min_soc for g in groups]),
        heat_pump_w=per_group([g.heat_pump_kw * 1000.0 for g in groups]),
        heat_loss_w_per_k=per_group([g.heat_loss_w_per_k for g in groups]),
        tank_wh=per_group([tank_capacity_wh(g.tank_l) for g in groups]),
        wind_w=per_group([g.wind_kw * 1000.0 for g in groups]),
        hydro_w=per_group([g.hydro_kw * 1000.0 for g in groups]),
        hydro_head_m=per_group([g.hydro_head_m for g in groups]),
    )
