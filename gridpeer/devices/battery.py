"""Battery energy storage (BESS): specification, terminal voltage and self-consumption dispatch.

Energy bookkeeping (per step of ``dt`` hours, stored energy ``E`` in Wh):

* charging at ``Pc`` W (at the terminals) stores ``Pc * dt * eta_c`` Wh;
* discharging at ``Pd`` W removes ``Pd * dt / eta_d`` Wh;
* ``eta_c = eta_d = sqrt(round-trip efficiency)``, so losses are never negative;
* ``E`` stays within ``[soc_min, soc_max] * capacity``; powers within their limits.

Dispatch loops over time steps but is vectorized across houses: arrays are shaped
(houses, steps); a house without battery has capacity 0 and never charges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]

# Open-circuit cell voltage (V) against SoC for LiFePO4 cells.
_LFP_SOC = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
_LFP_OCV = (2.80, 3.10, 3.20, 3.25, 3.28, 3.30, 3.31, 3.32, 3.33, 3.34, 3.37, 3.42, 3.55)
# Open-circuit voltage (V) of one 12 V lead-acid block against SoC.
_PB_SOC = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
_PB_OCV = (11.6, 11.75, 11.9, 12.0, 12.1, 12.2, 12.3, 12.4, 12.5, 12.6, 12.75)


@dataclass(frozen=True)
class BatterySpec:
    """A battery and its converter.

    Attributes:
        capacity_wh: usable nameplate energy, Wh (> 0).
        max_charge_w: charge power limit at the terminals, W (>= 0).
        max_discharge_w: discharge power limit at the terminals, W (>= 0).
        round_trip_efficiency: energy out / energy in over a full cycle, (0, 1].
        soc_min, soc_max: allowed state-of-charge window, 0 <= min < max <= 1.
        soc_initial: state of charge at the start of a simulation, within the window.
        ocv_soc, ocv_v: open-circuit voltage curve of the pack: SoC points (increasing,
            0..1) and voltages (V).
        resistance_ohm: internal resistance of the pack, Ω.
    """

    capacity_wh: float
    max_charge_w: float
    max_discharge_w: float
    round_trip_efficiency: float = 0.92
    soc_min: float = 0.1
    soc_max: float = 0.95
    soc_initial: float = 0.5
    ocv_soc: tuple[float, ...] = _LFP_SOC
    ocv_v: tuple[float, ...] = tuple(16 * v for v in _LFP_OCV)
    resistance_ohm: float = 0.05

    def __post_init__(self) -> None:
        if self.capacity_wh <= 0.0:
            raise ValueError(f"capacity must be > 0 Wh, got {self.capacity_wh}")
        if self.max_charge_w < 0.0 or self.max_discharge_w < 0.0:
            raise ValueError("power limits must be >= 0 W")
        if not 0.0 < self.round_trip_efficiency <= 1.0:
            raise ValueError(
                f"round-trip efficiency must be in (0, 1], got {self.round_trip_efficiency}"
            )
        if not 0.0 <= self.soc_min < self.soc_max <= 1.0:
            raise ValueError(
                f"need 0 <= soc_min < soc_max <= 1, got {self.soc_min}, {self.soc_max}"
            )
        if not self.soc_min <= self.soc_initial <= self.soc_max:
            raise ValueError("initial SoC must lie within [soc_min, soc_max]")
        if len(self.ocv_soc) != len(self.ocv_v) or len(self.ocv_soc) < 2:
            raise ValueError("OCV curve needs matching SoC and voltage points (at least 2)")
        if any(b <= a for a, b in zip(self.ocv_soc, self.ocv_soc[1:], strict=False)):
            raise ValueError("OCV SoC points must increase")
        if min(self.ocv_v) <= 0.0 or self.resistance_ohm < 0.0:
            raise ValueError("OCV voltages must be > 0 V and resistance >= 0 Ω")

    @classmethod
    def home(cls, capacity_wh: float = 5_000.0, c_rate: float = 0.5) -> BatterySpec:
        """A 48 V (16-cell LiFePO4) home battery with power limits ``c_rate * capacity``."""
        power = c_rate * capacity_wh
        return cls(capacity_wh=capacity_wh, max_charge_w=power, max_discharge_w=power)

    @classmethod
    def lab_lead_acid(cls, capacity_wh: float = 84.0) -> BatterySpec:
        """A 12 V lead-acid block like the thesis lab's (default 7 Ah × 12 V)."""
        return cls(
            capacity_wh=capacity_wh,
            max_charge_w=0.25 * capacity_wh,
            max_discharge_w=0.5 * capacity_wh,
            round_trip_efficiency=0.80,
            soc_min=0.3,
            soc_max=1.0,
            soc_initial=0.6,
            ocv_soc=_PB_SOC,
            ocv_v=_PB_OCV,
            resistance_ohm=0.03,
        )


def one_way_efficiency(round_trip_efficiency: npt.ArrayLike) -> FloatArray:
    """Charge (and discharge) efficiency, the square root of the round-trip one."""
    return np.sqrt(np.asarray(round_trip_efficiency, dtype=np.float64))


def terminal_voltage_v(spec: BatterySpec, soc: npt.ArrayLike, power_w: npt.ArrayLike) -> FloatArray:
    """Terminal voltage, V, at state of charge ``soc`` (0..1) and power ``power_w`` (W,
    positive = discharge): ``V = OCV(soc) - I * R`` with ``I = P / V``, solved exactly."""
    ocv = np.interp(np.asarray(soc, dtype=np.float64), spec.ocv_soc, spec.ocv_v)
    power = np.asarray(power_w, dtype=np.float64)
    discriminant = np.clip(ocv**2 - 4.0 * power * spec.resistance_ohm, 0.0, None)
    volts: FloatArray = (ocv + np.sqrt(discriminant)) / 2.0
    return volts


@dataclass(frozen=True)
class BatteryBank:
    """Batteries of many houses as arrays of shape (houses,); capacity 0 = no battery.

    Units as in :class:`BatterySpec` (Wh, W, fractions).
    """

    capacity_wh: FloatArray
    max_charge_w: FloatArray
    max_discharge_w: FloatArray
    round_trip_efficiency: FloatArray
    soc_min: FloatArray
    soc_max: FloatArray

    def __post_init__(self) -> None:
        n = self.capacity_wh.shape
        for name in (
            "max_charge_w",
            "max_discharge_w",
            "round_trip_efficiency",
            "soc_min",
            "soc_max",
        ):
            if getattr(self, name).shape != n:
                raise ValueError(f"{name} must have shape {n}")
        if np.any(self.capacity_wh < 0.0) or np.any(self.max_charge_w < 0.0):
            raise ValueError("capacities and power limits must be >= 0")
        if np.any(self.max_discharge_w < 0.0):
            raise ValueError("power limits must be >= 0")
        if np.any((self.round_trip_efficiency <= 0.0) | (self.round_trip_efficiency > 1.0)):
            raise ValueError("round-trip efficiencies must be in (0, 1]")
        if np.any((self.soc_min < 0.0) | (self.soc_min >= self.soc_max) | (self.soc_max > 1.0)):
            raise ValueError("need 0 <= soc_min < soc_max <= 1 for every house")

    @classmethod
    def of(cls, specs: list[BatterySpec | None]) -> BatteryBank:
        """A bank from per-house specs (``None`` = no battery)."""

        def column(attr: str, default: float) -> FloatArray:
            return np.array([default if s is None else getattr(s, attr) for s in specs])

        return cls(
            capacity_wh=column("capacity_wh", 0.0),
            max_charge_w=column("max_charge_w", 0.0),
            max_discharge_w=column("max_discharge_w", 0.0),
            round_trip_efficiency=column("round_trip_efficiency", 1.0),
            soc_min=column("soc_min", 0.0),
            soc_max=column("soc_max", 1.0),
        )

    def __len__(self) -> int:
        return int(self.capacity_wh.shape[0])


@dataclass(frozen=True)
class Dispatch:
    """Result of a dispatch, arrays shaped (houses, steps).

    Attributes:
        bess_w: battery power, W, positive = discharge, negative = charge.
        soc: state of charge at the end of each step, 0..1 (0 for houses without battery).
        grid_w: net grid power, W, positive = import, negative = export.
        loss_wh: conversion losses per step, Wh (>= 0).
    """

    bess_w: FloatArray
    soc: FloatArray
    grid_w: FloatArray
    loss_wh: FloatArray


SCALAR_HOUSES = 8
"""Up to this many houses, :func:`dispatch_self_consumption` steps each house with plain
floats (the same operations in the same order as the vectorized path, so the same
results): numpy's per-call overhead dominates a one-house step ~100x."""


def _dispatch_one(
    net: FloatArray,
    max_charge_w: float,
    max_discharge_w: float,
    eta: float,
    dt_h: float,
    e_min: float,
    e_max: float,
    energy: float,
    capacity: float,
    out: tuple[FloatArray, FloatArray, FloatArray],
) -> None:
    """One house's self-consumption dispatch over its steps (W, Wh, h); fills ``out`` =
    (bess_w, soc, loss_wh) rows in place."""
    bess_out, soc_out, loss_out = out
    bess_l, soc_l, loss_l = [], [], []
    c_div, d_mul = eta * dt_h, eta / dt_h
    c_loss, d_loss = 1.0 - eta, 1.0 / eta - 1.0
    for surplus in net.tolist():
        # min/max written as comparisons (same values, NaN aside): ~2x faster in CPython
        room = (e_max - energy) / c_div
        charge = surplus if surplus < max_charge_w else max_charge_w
        charge = charge if charge < room else room
        charge = charge if charge > 0.0 else 0.0
        room = (energy - e_min) * d_mul
        discharge = -surplus if -surplus < max_discharge_w else max_discharge_w
        discharge = discharge if discharge < room else room
        discharge = discharge if discharge > 0.0 else 0.0
        energy = energy + (charge * eta - discharge / eta) * dt_h
        energy = e_min if energy < e_min else (e_max if energy > e_max else energy)
        bess_l.append(discharge - charge)
        soc_l.append(energy / capacity if capacity > 0.0 else 0.0)
        loss_l.append((charge * c_loss + discharge * d_loss) * dt_h)
    bess_out[:] = bess_l
    soc_out[:] = soc_l
    loss_out[:] = loss_l


def dispatch_self_consumption(
    pv_w: FloatArray,
    load_w: FloatArray,
    bank: BatteryBank,
    step_s: float,
    soc_initial: npt.ArrayLike,
) -> Dispatch:
    """Self-consumption dispatch: charge from PV surplus, discharge to cover the deficit.

    ``pv_w`` and ``load_w`` are (houses, steps) powers in W; ``soc_initial`` (houses,)
    state of charge before the first step; ``step_s`` the step length in s. Output dtype
    follows the inputs (float32 stays float32).
    """
    pv = np.asarray(pv_w)
    load = np.asarray(load_w)
    if pv.shape != load.shape or pv.ndim != 2 or pv.shape[0] != len(bank):
        raise ValueError("pv_w and load_w must be (houses, steps) with one battery per house")
    if step_s <= 0:
        raise ValueError("step_s must be > 0 s")
    dtype = np.result_type(pv.dtype, load.dtype, np.float32)
    dt_h = step_s / 3600.0
    capacity = bank.capacity_wh
    eta = one_way_efficiency(bank.round_trip_efficiency)
    e_min = bank.soc_min * capacity
    e_max = bank.soc_max * capacity
    soc0 = np.broadcast_to(np.asarray(soc_initial, dtype=np.float64), capacity.shape)
    energy = np.clip(soc0 * capacity, e_min, e_max)
    has = capacity > 0.0
    safe_capacity = np.where(has, capacity, 1.0)
    charge_room_w = np.empty_like(energy)
    discharge_room_w = np.empty_like(energy)

    net = pv.astype(np.float64, copy=False) - load  # surplus > 0
    bess = np.zeros(pv.shape, dtype=dtype)
    soc = np.zeros(pv.shape, dtype=dtype)
    loss = np.zeros(pv.shape, dtype=dtype)
    if pv.shape[0] <= SCALAR_HOUSES:  # a few houses: plain floats beat numpy per step
        for h in range(pv.shape[0]):
            _dispatch_one(
                net[h],
                float(bank.max_charge_w[h]),
                float(bank.max_discharge_w[h]),
                float(eta[h]) if np.ndim(eta) else float(eta),
                dt_h,
                float(e_min[h]),
                float(e_max[h]),
                float(energy[h]),
                float(capacity[h]),
                (bess[h], soc[h], loss[h]),
            )
        grid = (load - pv - bess).astype(dtype, copy=False)
        return Dispatch(bess_w=bess, soc=soc, grid_w=grid, loss_wh=loss)
    for t in range(pv.shape[1]):
        surplus = net[:, t]
        np.divide(e_max - energy, eta * dt_h, out=charge_room_w)
        np.multiply(energy - e_min, eta / dt_h, out=discharge_room_w)
        charge = np.clip(
            np.minimum(np.minimum(surplus, bank.max_charge_w), charge_room_w), 0.0, None
        )
        discharge = np.clip(
            np.minimum(np.minimum(-surplus, bank.max_discharge_w), discharge_room_w), 0.0, None
        )
        energy = np.clip(energy + (charge * eta - discharge / eta) * dt_h, e_min, e_max)
        bess[:, t] = discharge - charge
        soc[:, t] = np.where(has, energy / safe_capacity, 0.0)
        loss[:, t] = (charge * (1.0 - eta) + discharge * (1.0 / eta - 1.0)) * dt_h
    grid = (load - pv - bess).astype(dtype, copy=False)
    return Dispatch(bess_w=bess, soc=soc, grid_w=grid, loss_wh=loss)
