"""Metered power through the delivery relays (W), real or simulated.

In simulation the seller can only push what it physically has at that moment: its PV
surplus over its own load plus what its battery may discharge above the reserve SoC,
capped by the P2P line rating. When the agents share a :class:`P2PLine` (one process,
as in ``gridpeer demo``) the buyer's IN meter reads exactly what the seller pushes for
that trade; otherwise it reads the line rating (the buyer's house, battery and grid
connection absorb whatever arrives). The oracle confirms the *smaller* of the two
meters, so a seller's under-delivery is settled correctly and the buyer's shortfall
comes from the grid.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from gridpeer.devices.trace import HouseTrace
from gridpeer.telemetry.delivery import Direction


class PowerSource(Protocol):
    """Power a closed relay carries at a moment, W (>= 0)."""

    def power_w(self, direction: Direction, now: datetime, trade_id: int | None = None) -> float:
        """Power through the relay of ``direction`` at UTC ``now`` for ``trade_id``, W."""
        ...

    def release(self, trade_id: int) -> None:
        """The relay of ``trade_id`` opened: nothing flows for it any more."""
        ...


@dataclass
class P2PLine:
    """The simulated delivery line: what each trade's seller pushes right now, W."""

    _w: dict[int, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def push(self, trade_id: int, watts: float) -> None:
        """The seller of ``trade_id`` pushes ``watts`` W now."""
        with self._lock:
            self._w[trade_id] = watts

    def carried(self, trade_id: int) -> float:
        """What the line carries for ``trade_id`` now, W (0 before the seller pushes)."""
        with self._lock:
            return self._w.get(trade_id, 0.0)

    def release(self, trade_id: int) -> None:
        """The seller's relay opened: the line carries nothing more for ``trade_id``."""
        with self._lock:
            self._w[trade_id] = 0.0


@dataclass(frozen=True)
class ConstantPower:
    """Fixed power per direction, W (tests, lab benches without meters)."""

    out_w: float = 2000.0
    in_w: float = 2000.0

    def power_w(self, direction: Direction, now: datetime, trade_id: int | None = None) -> float:
        """``out_w`` or ``in_w``."""
        return self.out_w if direction is Direction.OUT else self.in_w

    def release(self, trade_id: int) -> None:
        """Nothing to do."""


@dataclass(frozen=True)
class TracePower:
    """Deliverable power from a house's simulated trace.

    Attributes:
        trace: the house's power flows.
        line_max_w: P2P line rating, W.
        bess_max_w: battery discharge / charge limit for deliveries, W (0 without battery).
        reserve_soc: the battery is not discharged below this SoC (0..1).
        line: the shared line (buyer reads what the seller pushes), or None.
    """

    trace: HouseTrace
    line_max_w: float = 3000.0
    bess_max_w: float = 0.0
    reserve_soc: float = 0.2
    line: P2PLine | None = None

    def _index(self, now: datetime) -> int:
        k = int((now - self.trace.start).total_seconds() // self.trace.step_s)
        return min(max(k, 0), len(self.trace) - 1)

    def power_w(self, direction: Direction, now: datetime, trade_id: int | None = None) -> float:
        """OUT: PV surplus + battery above reserve, capped by the line; IN: what the line
        carries for the trade (shared line) or the line rating; W."""
        if direction is Direction.IN:
            if self.line is not None and trade_id is not None:
                return min(self.line_max_w, self.line.carried(trade_id))
            return self.line_max_w
        k = self._index(now)
        pv = float(self.trace.pv_w[k])
        load = float(self.trace.load_w[k])
        soc = float(self.trace.soc[k])
        battery = self.bess_max_w if soc > self.reserve_soc else 0.0
        out = min(self.line_max_w, max(0.0, pv - load) + battery)
        if self.line is not None and trade_id is not None:
            self.line.push(trade_id, out)
        return out

    def release(self, trade_id: int) -> None:
        """A relay of ``trade_id`` opened: if it was the seller's, the line goes dead."""
        if self.line is not None:
            self.line.release(trade_id)
