"""Optimal schedules of a house's flexibility: one LP for many houses (HiGHS).

Model-predictive control solves, for every house at once (a block-diagonal LP, one
HiGHS solve per batch), the cheapest operation of its battery, EV and heat pump over
the next ``H`` slots of ``dt`` h against expected buy and sell prices, given forecast PV
and load. Variables per house and slot (Wh per slot unless said):

* ``imp, exp ≥ 0``: energy bought and sold (grid or P2P, at the expected prices);
* battery ``bc, bd ∈ [0, P·dt]`` and stored ``sb ∈ [soc_min, soc_max]·C``:
  ``sb_t = sb_{t−1} + η_c·bc_t − bd_t/η_d``;
* EV ``ec ∈ [0, P_ev·dt·home_t]``, ``ed ∈ [0, P_ev·dt·home_t·v2g]``, stored
  ``se ∈ [0, C_ev]``: ``se_t = se_{t−1} + η·ec_t − ed_t/η − trip_t + short_t`` and
  ``se ≥ min_soc·C_ev`` at the end of the slot before each departure; ``short ≥ 0``
  is driving energy charged elsewhere (penalised);
* heat pump heat ``hh ∈ [0, P_th,max,t·dt]`` drawing ``hh/COP_t`` electricity, tank
  ``st ∈ [0, C_tank]``: ``st_t = (1 − λ·dt)·st_{t−1} + hh_t − demand_t·dt + unmet_t``
  (``unmet ≥ 0`` penalised);
* balance: ``pv − load − bc + bd − ec + ed − hh/COP + imp − exp = 0``.

Objective: ``Σ_t (p_buy,t·imp_t − p_sell,t·exp_t) + M·Σ(short + unmet/COP)`` minus
the value of the energy left in storage at the end (battery and EV at the mean sell
price, tank heat at the mean sell price / mean COP), prices per Wh. With
``p_sell ≤ p_buy`` no optimum buys and sells in the same slot. Everything here is
arrays; the caller supplies forecasts and prices.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
KINDS = ("imp", "exp", "bc", "bd", "sb", "ec", "ed", "se", "short", "hh", "st", "unmet")
PENALTY = 10.0
"""Penalty per Wh of EV shortfall or unmet heat, as a multiple of the highest price."""


@dataclass(frozen=True)
class FlexProblem:
    """Inputs of one schedule for ``n`` houses over ``H`` slots (Wh per slot, prices per
    Wh; arrays ``(n, H)`` or ``(n,)``). Zero capacities switch a device off.

    Attributes:
        dt_h: slot length, h.
        pv_wh, load_wh: forecast generation and inflexible load per slot.
        buy_price, sell_price: expected prices per Wh (sell <= buy).
        batt_wh, batt_power_w, batt_eff, batt_soc_min, batt_soc_max, batt_start_wh:
            battery capacity, power limit, one-way efficiency, SoC window, initial energy.
        ev_wh, ev_power_w, ev_eff, ev_v2g, ev_start_wh, ev_home, ev_trip_wh,
            ev_need_wh: EV capacity, charger limit, one-way efficiency, V2G allowed,
            initial energy, plugged in per slot, driving energy per slot, and the
            energy required at the end of each slot (0 where none; before departures).
        hp_heat_max_w, hp_cop, heat_demand_w, tank_wh, tank_loss_per_h, tank_start_wh:
            heat pump thermal limit and COP per slot, heat demand per slot, tank
            capacity, standing loss, initial content.
    """

    dt_h: float
    pv_wh: F64
    load_wh: F64
    buy_price: F64
    sell_price: F64
    batt_wh: F64
    batt_power_w: F64
    batt_eff: F64
    batt_soc_min: F64
    batt_soc_max: F64
    batt_start_wh: F64
    ev_wh: F64
    ev_power_w: F64
    ev_eff: F64
    ev_v2g: B
    ev_start_wh: F64
    ev_home: B
    ev_trip_wh: F64
    ev_need_wh: F64
    hp_heat_max_w: F64
    hp_cop: F64
    heat_demand_w: F64
    tank_wh: F64
    tank_loss_per_h: F64
    tank_start_wh: F64

    @property
    def shape(self) -> tuple[int, int]:
        """``(houses, slots)``."""
        n, h = self.pv_wh.shape
        return int(n), int(h)


@dataclass(frozen=True)
class FlexSchedule:
    """The optimal schedule: each of :data:`KINDS` as ``(n, H)`` Wh per slot, the
    objective per house (currency per the prices' unit), and the solver status."""

    values: dict[str, F64]
    cost: F64
    status: str

    def __getitem__(self, kind: str) -> F64:
        return self.values[kind]


_quiet = False


def _highs() -> Any:
    """A HiGHS instance; the first one is made with stdout closed (HiGHS prints its
    licence banner once per process, on stdout, before any option can silence it)."""
    import highspy

    global _quiet
    if _quiet:
        return highspy.Highs()  # type: ignore[no-untyped-call]
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        solver = highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
    _quiet = True
    return solver


def _bounds(p: FlexProblem) -> tuple[dict[str, F64], dict[str, F64]]:
    n, h = p.shape
    dt = p.dt_h
    z = np.zeros((n, h))
    inf = np.full((n, h), np.inf)

    def col(a: F64) -> F64:
        out: F64 = np.broadcast_to(np.asarray(a, dtype=np.float64)[:, None], (n, h))
        return out

    home = p.ev_home.astype(np.float64) * (col(p.ev_wh) > 0)
    lo = {k: z for k in KINDS}
    hi = {
        "imp": inf,
        "exp": inf,
        "bc": col(p.batt_power_w * dt) * (col(p.batt_wh) > 0),
        "bd": col(p.batt_power_w * dt) * (col(p.batt_wh) > 0),
        "sb": col(p.batt_soc_max * p.batt_wh),
        "ec": col(p.ev_power_w * dt) * home,
        "ed": col(p.ev_power_w * dt) * home * col(p.ev_v2g.astype(np.float64)),
        "se": col(p.ev_wh),
        "short": np.where(col(p.ev_wh) > 0, inf, 0.0),
        "hh": p.hp_heat_max_w * dt * (col(p.tank_wh) > 0),
        "st": col(p.tank_wh),
        "unmet": np.where(col(p.tank_wh) > 0, inf, 0.0),
    }
    lo = dict(lo)
    lo["sb"] = col(p.batt_soc_min * p.batt_wh)
    lo["se"] = np.minimum(p.ev_need_wh, hi["se"])
    return lo, hi


def solve(p: FlexProblem) -> FlexSchedule:
    """Solve the LP for all houses of ``p`` in one HiGHS run (see the module docstring).

    Raises:
        RuntimeError: the solver did not reach an optimum.
    """
    import highspy
    from scipy import sparse

    n, h = p.shape
    m = n * h
    active = [
        name
        for name in KINDS
        if name in ("imp", "exp")
        or (name in ("bc", "bd", "sb") and (p.batt_wh > 0).any())
        or (name in ("ec", "ed", "se", "short") and (p.ev_wh > 0).any())
        or (name in ("hh", "st", "unmet") and (p.tank_wh > 0).any())
    ]  # a batch without a device kind gets none of its variables
    k = len(active)
    idx = {name: np.arange(m).reshape(n, h) + i * m for i, name in enumerate(active)}
    lo, hi = _bounds(p)
    dt = p.dt_h
    cop = np.where(p.hp_cop > 0, p.hp_cop, 1.0)
    rows: list[F64] = []
    cols: list[F64] = []
    vals: list[F64] = []
    rlo: list[F64] = []
    rhi: list[F64] = []
    r0 = 0

    def add(row: npt.NDArray[np.int64], var: npt.NDArray[np.int64], coef: F64 | float) -> None:
        if var.size == 0:
            return
        rows.append(row.ravel().astype(np.float64))
        cols.append(var.ravel().astype(np.float64))
        vals.append(np.broadcast_to(np.asarray(coef, dtype=np.float64), var.shape).ravel())

    def block(rhs: F64) -> npt.NDArray[np.int64]:
        nonlocal r0
        r = np.arange(m).reshape(n, h) + r0
        r0 += m
        rlo.append(rhs.ravel())
        rhi.append(rhs.ravel())
        return r

    # balance: imp − exp − bc + bd − ec + ed − hh/COP = load − pv
    r = block(p.load_wh - p.pv_wh)
    none = np.zeros((n, 0), dtype=np.int64)

    def var(name: str) -> npt.NDArray[np.int64]:
        return idx.get(name, none)

    for name, c in (("imp", 1.0), ("exp", -1.0), ("bc", -1.0), ("bd", 1.0)):
        add(r, var(name), c)
    add(r, var("ec"), -1.0)
    add(r, var("ed"), 1.0)
    add(r, var("hh"), -1.0 / cop)

    def storage(
        store: str, keep: F64 | float, start: F64, rhs: F64, terms: list[tuple[str, F64 | float]]
    ) -> None:
        if store not in idx:
            return
        first = np.zeros((n, h))
        first[:, 0] = np.asarray(start, dtype=np.float64) * np.broadcast_to(keep, (n,))
        rr = block(rhs + first)
        add(rr, idx[store], 1.0)
        add(rr[:, 1:], idx[store][:, :-1], -np.broadcast_to(np.asarray(keep), (n,))[:, None])
        for name, c in terms:
            add(rr, idx[name], c)

    def col(a: F64) -> F64:
        out: F64 = np.asarray(a, dtype=np.float64)[:, None]
        return out

    eff = np.where(p.batt_eff > 0, p.batt_eff, 1.0)
    b0 = np.clip(p.batt_start_wh, p.batt_soc_min * p.batt_wh, p.batt_soc_max * p.batt_wh)
    storage("sb", 1.0, b0, np.zeros((n, h)), [("bc", -col(eff)), ("bd", 1 / col(eff))])
    ev_eff = np.where(p.ev_eff > 0, p.ev_eff, 1.0)
    storage(
        "se",
        1.0,
        np.clip(p.ev_start_wh, 0.0, p.ev_wh),
        -p.ev_trip_wh * (col(p.ev_wh) > 0),
        [("ec", -col(ev_eff)), ("ed", 1 / col(ev_eff)), ("short", -1.0)],
    )
    storage(
        "st",
        1.0 - p.tank_loss_per_h * dt,
        np.clip(p.tank_start_wh, 0.0, p.tank_wh),
        -p.heat_demand_w * dt * (col(p.tank_wh) > 0),
        [("hh", -1.0), ("unmet", -1.0)],
    )
    # objective
    top = float(max(np.max(p.buy_price), 1e-12))
    cost = np.zeros(k * m)
    cost[var("imp").ravel()] = p.buy_price.ravel()
    cost[var("exp").ravel()] = -p.sell_price.ravel()
    cost[var("short").ravel()] = PENALTY * top
    if "unmet" in idx:
        cost[var("unmet").ravel()] = (PENALTY * top / cop).ravel()
    v_end = p.sell_price.mean(axis=1)
    for store, value in (("sb", v_end), ("se", v_end), ("st", v_end / cop.mean(axis=1))):
        if store in idx:
            cost[idx[store][:, -1]] = -value
    a = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, k * m)
    )
    lp = highspy.HighsLp()
    lp.num_col_ = k * m
    lp.num_row_ = r0
    lp.col_cost_ = cost
    lp.col_lower_ = np.concatenate(
        [np.asarray(lo[name], dtype=np.float64).ravel() for name in active]
    )
    lp.col_upper_ = np.concatenate(
        [np.asarray(hi[name], dtype=np.float64).ravel() for name in active]
    )
    lp.row_lower_ = np.concatenate(rlo)
    lp.row_upper_ = np.concatenate(rhi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    solver = _highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("threads", 1)
    solver.passModel(lp)
    solver.run()
    status = solver.modelStatusToString(solver.getModelStatus())
    if status != "Optimal":
        raise RuntimeError(f"flexibility LP not solved: {status}")
    x = np.asarray(solver.getSolution().col_value)
    values = {
        name: x[idx[name]].reshape(n, h) if name in idx else np.zeros((n, h)) for name in KINDS
    }
    per_house = (cost.reshape(k, n, h) * x.reshape(k, n, h)).sum(axis=(0, 2))
    return FlexSchedule(values, per_house, status)


def schedule_cost(p: FlexProblem, values: dict[str, F64]) -> F64:
    """The LP's objective per house for any schedule (e.g. a rule-based one) given as
    the :data:`KINDS` arrays, Wh per slot (missing kinds count as 0)."""
    n, h = p.shape
    z = np.zeros((n, h))

    def get(name: str) -> F64:
        return values.get(name, z)

    cop = np.where(p.hp_cop > 0, p.hp_cop, 1.0)
    top = float(max(np.max(p.buy_price), 1e-12))
    v_end = p.sell_price.mean(axis=1)
    out: F64 = (
        (p.buy_price * get("imp")).sum(axis=1)
        - (p.sell_price * get("exp")).sum(axis=1)
        + PENALTY * top * get("short").sum(axis=1)
        + (PENALTY * top / cop * get("unmet")).sum(axis=1)
        - v_end * get("sb")[:, -1]
        - v_end * get("se")[:, -1]
        - v_end / cop.mean(axis=1) * get("st")[:, -1]
    )
    return out
