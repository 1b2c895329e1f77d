"""Metered power through the delivery relays (W), real or simulated.

In simulation the seller can only push what it physically has at that moment: its PV
surplus over its own load plus what its battery may discharge above the reserve SoC,
capped by the P2P line rating. The buyer's IN meter reads what it can absorb (its load
plus battery charge headroom), also capped by the line; the oracle then confirms the
*smaller* of the two meters, so a seller's under-delivery is settled correctly and the
buyer's shortfall comes from the grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gridpeer.devices.trace import HouseTrace
from gridpeer.oracle.messages import Direction


class PowerSource(Protocol):
    """Power a closed relay carries at a moment, W (>= 0)."""

    def power_w(self, direction: Direction, now: datetime) -> float:
        """Power through the relay of ``direction`` at UTC ``now``, W."""
        ...


@dataclass(frozen=True)
class ConstantPower:
    """Fixed power per direction, W (tests, lab benches without meters)."""

    out_w: float = 2000.0
    in_w: float = 2000.0

    def power_w(self, direction: Direction, now: datetime) -> float:
        """``out_w`` or ``in_w``."""
        return self.out_w if direction is Direction.OUT else self.in_w


@dataclass(frozen=True)
class TracePower:
    """Deliverable power from a house's simulated trace.

    Attributes:
        trace: the house's power flows.
        line_max_w: P2P line rating, W.
        bess_max_w: battery discharge / charge limit for deliveries, W (0 without battery).
        reserve_soc: the battery is not discharged below this SoC (0..1).
    """

    trace: HouseTrace
    line_max_w: float = 3000.0
    bess_max_w: float = 0.0
    reserve_soc: float = 0.2

    def _index(self, now: datetime) -> int:
        k = int((now - self.trace.start).total_seconds() // self.trace.step_s)
        return min(max(k, 0), len(self.trace) - 1)

    def power_w(self, direction: Direction, now: datetime) -> float:
        """OUT: PV surplus + battery above reserve; IN: load + battery charge headroom; W."""
        k = self._index(now)
        pv = float(self.trace.pv_w[k])
        load = float(self.trace.load_w[k])
        soc = float(self.trace.soc[k])
        if direction is Direction.OUT:
            battery = self.bess_max_w if soc > self.reserve_soc else 0.0
            avail = max(0.0, pv - load) + battery
        else:
            battery = self.bess_max_w if soc < 1.0 else 0.0
            avail = max(0.0, load - pv) + battery
        return min(self.line_max_w, avail)
