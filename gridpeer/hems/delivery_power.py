"""Metered power through the delivery relays (W), real or simulated.

A relay serves every trade of its direction whose window is open; the executor says
which fraction of the relay's power goes to each (``trades``: trade id → share).

In simulation the seller can only push what it physically has at that moment (in its
simulated day, whatever day of the run it is): its PV surplus over its own load plus
what its battery may discharge above the reserve SoC, capped by the P2P line rating.
When the agents share a :class:`P2PLine` (one process, as in ``gridpeer demo``) the
seller's power is split onto its trades by those shares and the buyer's IN meter reads
the sum of what its trades carry; otherwise it reads the line rating (the buyer's house,
battery and grid connection absorb whatever arrives).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from gridpeer.devices.trace import HouseTrace, TraceSource, as_source
from gridpeer.telemetry.delivery import Direction


class PowerSource(Protocol):
    """Power a closed relay carries at a moment, W (>= 0)."""

    def power_w(
        self, direction: Direction, now: datetime, trades: Mapping[int, float] | None = None
    ) -> float:
        """Power through the relay of ``direction`` at UTC ``now``, W, while it serves
        ``trades`` (trade id → fraction of the relay's power going to it)."""
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

    def power_w(
        self, direction: Direction, now: datetime, trades: Mapping[int, float] | None = None
    ) -> float:
        """``out_w`` or ``in_w``."""
        return self.out_w if direction is Direction.OUT else self.in_w

    def release(self, trade_id: int) -> None:
        """Nothing to do."""


@dataclass(frozen=True)
class TracePower:
    """Deliverable power from a house's simulated flows.

    Attributes:
        trace: the house's flows at any time (a fixed trace is repeated).
        line_max_w: P2P line rating, W.
        bess_max_w: battery discharge / charge limit for deliveries, W (0 without battery).
        reserve_soc: the battery is not discharged below this SoC (0..1).
        line: the shared line (buyer reads what the seller pushes), or None.
    """

    trace: TraceSource | HouseTrace
    line_max_w: float = 3000.0
    bess_max_w: float = 0.0
    reserve_soc: float = 0.2
    line: P2PLine | None = None
    source: TraceSource = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", as_source(self.trace))

    def available_w(self, now: datetime) -> float:
        """What the seller could push at UTC ``now``: PV surplus + battery above reserve,
        capped by the line, W."""
        p = self.source.locate(now.timestamp())
        pv = float(p.trace.pv_w[p.index])
        load = float(p.trace.load_w[p.index])
        soc = float(p.trace.soc[p.index])
        battery = self.bess_max_w if soc > self.reserve_soc else 0.0
        return min(self.line_max_w, max(0.0, pv - load) + battery)

    def power_w(
        self, direction: Direction, now: datetime, trades: Mapping[int, float] | None = None
    ) -> float:
        """OUT: :meth:`available_w`, pushed onto the line split by ``trades``' shares; IN:
        the sum of what the line carries for ``trades`` (shared line) or the line rating;
        W."""
        if direction is Direction.IN:
            if self.line is not None and trades is not None:
                return min(self.line_max_w, sum(self.line.carried(t) for t in trades))
            return self.line_max_w
        out = self.available_w(now)
        if self.line is not None and trades is not None:
            for tid, share in trades.items():
                self.line.push(tid, out * share)
        return out

    def release(self, trade_id: int) -> None:
        """A relay of ``trade_id`` opened: if it was the seller's, the line goes dead."""
        if self.line is not None:
            self.line.release(trade_id)
