"""Air/water heat pumps heating a house through a hot-water tank, vectorized over houses.

* Space-heat demand (W): ``Q_dem = UA · max(0, T_base − T_out)`` with the house's heat
  loss coefficient ``UA`` (W/K) and heating base temperature ``T_base`` (15 °C: internal
  and solar gains cover the rest). No domestic hot water (a limit).
* Heat pump: hplib's generic on/off air/water unit (``group_id`` 4) sized to
  ``rated_heat_w`` at A−7/W52; at the slot's outdoor temperature and a 35 °C flow it
  delivers ``P_th,max(T_out)`` with ``COP(T_out)`` (hplib's fitted curves). Running a
  fraction ``u`` ∈ [0, 1] of the slot gives ``Q_hp = u·P_th,max`` and
  ``P_el = Q_hp / COP`` (an on/off unit cycling; COP taken as independent of ``u``).
* Tank (Wh of heat above its lowest usable temperature), per slot of ``dt`` h:
  ``E[t] = E[t−1]·(1 − λ·dt) + (Q_hp − Q_dem + Q_unmet)·dt`` with standing loss rate
  ``λ`` (1/h) and ``0 ≤ E ≤ capacity``; ``Q_unmet`` is demand the tank could not cover
  (a comfort violation, reported). Capacity of a tank of V litres and ΔT K:
  ``V · 4.186 kJ/(kg·K) · ΔT / 3.6`` Wh (300 L, 20 K ≈ 7 kWh).

The thermostat policy (:func:`run_thermostat`) keeps the tank at ``target`` of its
capacity, heating as much as needed up to ``P_th,max``; optimising strategies choose
``u`` themselves and use :func:`tank_step` for the physics.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
T_BASE_C = 15.0
FLOW_C = 35.0
WATER_WH_PER_L_K = 4.186 / 3.6


def tank_capacity_wh(litres: float, delta_k: float = 20.0) -> float:
    """Heat a tank of ``litres`` stores over ``delta_k`` K, Wh."""
    return litres * WATER_WH_PER_L_K * delta_k


@dataclass(frozen=True)
class HeatPumps:
    """Heat pumps of all houses (arrays of length houses; ``rated_heat_w`` 0 = none).

    Attributes:
        rated_heat_w: thermal power at A−7/W52, W.
        ua_w_per_k: heat loss coefficient of the house, W/K.
        tank_wh: tank capacity, Wh of heat.
        loss_per_h: tank standing loss, fraction of its content per hour.
    """

    rated_heat_w: F64
    ua_w_per_k: F64
    tank_wh: F64
    loss_per_h: F64

    @property
    def n(self) -> int:
        """Number of houses."""
        return int(self.rated_heat_w.size)


@lru_cache(maxsize=1)
def _generic() -> Any:
    import hplib.hplib as hpl

    params = hpl.get_parameters(model="Generic", group_id=4, t_in=-7, t_out=52, p_th=10_000)
    return hpl.HeatPump(params)


def performance(t_out_c: F64) -> tuple[F64, F64]:
    """``(COP, P_th,max per W rated)`` of the generic unit at outdoor ``t_out_c`` °C and a
    35 °C flow, any shape (hplib, rated 10 kW at A−7/W52, scaled to 1 W)."""
    t = np.asarray(t_out_c, dtype=np.float64)
    flat = t.ravel()
    res = _generic().simulate(
        t_in_primary=flat, t_in_secondary=np.full(flat.size, FLOW_C - 5.0), t_amb=flat, mode=1
    )
    cop = np.asarray(res["COP"], dtype=np.float64).reshape(t.shape)
    p_th = np.asarray(res["P_th"], dtype=np.float64).reshape(t.shape) / 10_000.0
    return cop, p_th


def heat_demand_w(hp: HeatPumps, t_out_c: F64) -> F64:
    """Space-heat demand per house and slot, W: ``UA · max(0, 15 °C − T_out)``."""
    out: F64 = hp.ua_w_per_k[:, None] * np.clip(T_BASE_C - np.asarray(t_out_c), 0.0, None)
    return out * (hp.rated_heat_w[:, None] > 0)


def tank_step(
    hp: HeatPumps, stored_wh: F64, heat_w: F64, demand_w: F64, dt_h: float
) -> tuple[F64, F64]:
    """Tank content after one slot and the unmet demand, ``(stored_wh, unmet_w)``."""
    kept = stored_wh * (1.0 - hp.loss_per_h * dt_h)
    e = kept + (heat_w - demand_w) * dt_h
    unmet = np.clip(-e, 0.0, None) / dt_h
    return np.clip(e, 0.0, hp.tank_wh), unmet


@dataclass(frozen=True)
class HeatPumpDay:
    """One day of heat pump operation, shape ``(houses, slots)``.

    Attributes:
        electric_w: electric power, W.  heat_w: heat delivered to the tank, W.
        demand_w: space-heat demand, W.  unmet_w: demand not covered, W.
        tank: tank content at each slot's end, 0..1 of capacity.  cop: COP per slot.
    """

    electric_w: F64
    heat_w: F64
    demand_w: F64
    unmet_w: F64
    tank: F64
    cop: F64


def run_thermostat(
    hp: HeatPumps, t_out_c: F64, stored_wh: F64, step_s: int = 900, target: float = 0.5
) -> HeatPumpDay:
    """Keep the tank at ``target`` of its capacity: heat ``Q_dem`` plus the refill, at
    most ``P_th,max``. ``t_out_c``: outdoor temperature per slot, shape ``(slots,)``."""
    dt = step_s / 3600.0
    cop1, pth1 = performance(t_out_c)
    n, slots = hp.n, t_out_c.size
    demand = heat_demand_w(hp, t_out_c[None, :] + np.zeros((n, 1)))
    cap_w = hp.rated_heat_w[:, None] * pth1[None, :]
    heat = np.zeros((n, slots))
    unmet = np.zeros((n, slots))
    tank = np.zeros((n, slots))
    e = stored_wh.astype(np.float64).copy()
    for t in range(slots):
        kept = e * (1.0 - hp.loss_per_h * dt)
        want = demand[:, t] + (target * hp.tank_wh - kept) / dt
        heat[:, t] = np.clip(want, 0.0, cap_w[:, t])
        e, unmet[:, t] = tank_step(hp, e, heat[:, t], demand[:, t], dt)
        tank[:, t] = np.divide(e, hp.tank_wh, out=np.zeros(n), where=hp.tank_wh > 0)
    cop = np.broadcast_to(cop1, (n, slots)).copy()
    return HeatPumpDay(heat / cop, heat, demand, unmet, tank, cop)
