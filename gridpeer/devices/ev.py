"""Electric vehicles at home: plug-in sessions from a stochastic model, and charging.

Session model (one draw per car and day, seeded by ``(seed, day)``; local times):

* the car is used on a day with probability ``P_DRIVE`` (0.85 weekdays, 0.6 weekends);
* departure ~ Normal(7.5 h, 1.0 h) clipped to 05:00..11:00; time away ~ Normal(9.5 h,
  1.5 h) clipped to 2..14 h (arrival at most 23:45);
* distance ~ LogNormal(median 30 km, σ 0.6) clipped to 1..300 km; driving energy =
  distance × ``consumption_wh_per_km`` (default 180 Wh/km), taken from the battery at
  the arrival slot. A trip larger than the stored energy leaves the car at SoC 0 and the
  rest is charged elsewhere (``public_wh``).

The parameters are assumptions of the order reported by national travel surveys
(commuting cars: one round trip a day, a few tens of km); no measured sessions ship.
The local-day pattern is rotated into the UTC day by the site's offset.

Charging (per slot of ``dt`` h, stored energy ``E`` Wh, charger efficiency η one way):
``E[t] = E[t−1] + η·Pc·dt − Pd·dt/η − trip[t]``, ``0 ≤ Pc ≤ charger_w`` and
``0 ≤ Pd ≤ charger_w·v2g`` only while plugged in, ``0 ≤ E ≤ capacity``. The
uncontrolled policy (:func:`charge_uncontrolled`) charges at full power from arrival
until full (the usual baseline); smarter policies live in the strategies (MPC) and
must keep ``E ≥ min_soc_departure · capacity`` at departure when the time plugged in
allows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
SLOTS = 96
P_DRIVE_WEEKDAY, P_DRIVE_WEEKEND = 0.85, 0.6
DEPART_H, DEPART_SD_H = 7.5, 1.0
AWAY_H, AWAY_SD_H = 9.5, 1.5
KM_MEDIAN, KM_SIGMA = 30.0, 0.6


@dataclass(frozen=True)
class EvFleet:
    """The cars of all houses (arrays of length houses; capacity 0 = no car).

    Attributes:
        capacity_wh: usable battery energy, Wh.
        charger_w: charger power limit (AC side), W.
        v2g: whether the car may discharge into the house (vehicle-to-grid).
        min_soc_departure: required SoC when the car leaves, 0..1.
        efficiency: charger efficiency one way, (0, 1].
        consumption_wh_per_km: driving consumption, Wh/km.
    """

    capacity_wh: F64
    charger_w: F64
    v2g: B
    min_soc_departure: F64
    efficiency: F64
    consumption_wh_per_km: F64

    @property
    def n(self) -> int:
        """Number of houses."""
        return int(self.capacity_wh.size)


@dataclass(frozen=True)
class EvSpec:
    """One house's car (the live demo's EV house; the simulator uses :class:`EvFleet`).

    Attributes:
        capacity_wh: usable battery energy, Wh (> 0).
        charger_w: home charger power limit (AC side), W (> 0).
        v2g: whether the car may discharge into the house.
        min_soc_departure: required SoC when the car leaves, 0..1.
        efficiency: charger efficiency one way, (0, 1].
        consumption_wh_per_km: driving consumption, Wh/km.
        soc_initial: SoC at the start of a run, 0..1.
    """

    capacity_wh: float = 40_000.0
    charger_w: float = 7_400.0
    v2g: bool = False
    min_soc_departure: float = 0.6
    efficiency: float = 0.92
    consumption_wh_per_km: float = 180.0
    soc_initial: float = 0.5

    def __post_init__(self) -> None:
        if self.capacity_wh <= 0.0 or self.charger_w <= 0.0:
            raise ValueError("an EV needs capacity > 0 Wh and charger power > 0 W")
        if not 0.0 < self.efficiency <= 1.0:
            raise ValueError(f"efficiency must be in (0, 1], got {self.efficiency}")
        if not (0.0 <= self.min_soc_departure <= 1.0 and 0.0 <= self.soc_initial <= 1.0):
            raise ValueError("SoC values must be within 0..1")

    def fleet(self) -> EvFleet:
        """This car as a fleet of one."""
        return EvFleet(
            capacity_wh=np.array([self.capacity_wh]),
            charger_w=np.array([self.charger_w]),
            v2g=np.array([self.v2g]),
            min_soc_departure=np.array([self.min_soc_departure]),
            efficiency=np.array([self.efficiency]),
            consumption_wh_per_km=np.array([self.consumption_wh_per_km]),
        )


@dataclass(frozen=True)
class EvSessions:
    """One UTC day of sessions, shape ``(houses, 96)``.

    Attributes:
        home: plugged in at home during the slot.
        trip_wh: driving energy taken from the battery at the arrival slot, Wh.
        departure: slot of departure (-1: the car stays home), shape ``(houses,)``.
    """

    home: B
    trip_wh: F64
    departure: I64


@dataclass(frozen=True)
class EvDay:
    """Charging of one day.

    Attributes:
        power_w: grid-side power, + charging, − discharging (V2G), W.
        soc: state of charge at the end of each slot, 0..1 (0 without a car).
        public_wh: driving energy the battery could not supply, Wh per house.
    """

    power_w: F64
    soc: F64
    public_wh: F64


def draw_sessions(fleet: EvFleet, day: date, seed: int, utc_offset_h: float = 0.0) -> EvSessions:
    """Plug-in sessions of ``day`` for every car (see the module docstring), seeded."""
    n = fleet.n
    rng = np.random.default_rng([seed, 8, day.toordinal()])
    weekend = day.weekday() >= 5
    drives = rng.random(n) < (P_DRIVE_WEEKEND if weekend else P_DRIVE_WEEKDAY)
    drives &= fleet.capacity_wh > 0
    dep_h = np.clip(rng.normal(DEPART_H, DEPART_SD_H, n), 5.0, 11.0)
    away_h = np.clip(rng.normal(AWAY_H, AWAY_SD_H, n), 2.0, 14.0)
    km = np.clip(KM_MEDIAN * np.exp(rng.normal(0.0, KM_SIGMA, n)), 1.0, 300.0)
    dep = np.floor(dep_h * 4).astype(np.int64)
    arr = np.minimum(np.ceil((dep_h + away_h) * 4).astype(np.int64), SLOTS - 1)
    slots = np.arange(SLOTS)
    away = drives[:, None] & (slots >= dep[:, None]) & (slots < arr[:, None])
    trip = np.zeros((n, SLOTS))
    rows = np.flatnonzero(drives)
    trip[rows, arr[rows]] = km[rows] * fleet.consumption_wh_per_km[rows]
    shift = -round(utc_offset_h * 4)  # local slot s is UTC slot s - offset
    home = np.roll(~away & (fleet.capacity_wh > 0)[:, None], shift, axis=1)
    departure = np.where(drives, (dep + shift) % SLOTS, -1)
    return EvSessions(home=home, trip_wh=np.roll(trip, shift, axis=1), departure=departure)


def step_energy(
    fleet: EvFleet, stored_wh: F64, power_w: F64, trip_wh: F64, dt_h: float
) -> tuple[F64, F64]:
    """Stored energy after one slot with grid-side ``power_w`` (+ charge) and a trip.

    Returns ``(stored_wh, public_wh)``: the new energy (>= 0) and the driving energy
    that had to come from elsewhere.
    """
    eta = fleet.efficiency
    charge = np.clip(power_w, 0.0, None) * dt_h * eta
    discharge = np.clip(-power_w, 0.0, None) * dt_h / eta
    e = stored_wh + charge - discharge - trip_wh
    public = np.clip(-e, 0.0, None)
    return np.clip(e, 0.0, fleet.capacity_wh), public


def charge_uncontrolled(
    fleet: EvFleet, sessions: EvSessions, soc0: F64, step_s: int = 900
) -> EvDay:
    """Charge at full power whenever plugged in until full; never discharge."""
    n = fleet.n
    slots = sessions.home.shape[1]
    dt = step_s / 3600.0
    cap = fleet.capacity_wh
    e = soc0 * cap
    power = np.zeros((n, slots))
    soc = np.zeros((n, slots))
    public = np.zeros(n)
    eta = np.where(fleet.efficiency > 0, fleet.efficiency, 1.0)
    for t in range(slots):
        room_w = np.clip(cap - e, 0.0, None) / (dt * eta)
        p = np.where(sessions.home[:, t], np.minimum(fleet.charger_w, room_w), 0.0)
        power[:, t] = p
        e, pub = step_energy(fleet, e, p, sessions.trip_wh[:, t], dt)
        public += pub
        soc[:, t] = np.divide(e, cap, out=np.zeros(n), where=cap > 0)
    return EvDay(power_w=power, soc=soc, public_wh=public)
