"""Metered power through the delivery relays (W), real or simulated.

A relay serves every trade of its direction whose window is open; the executor says
which fraction of the relay's power goes to each (``trades``: trade id → share).

In simulation the seller can only push what it physically has at that moment (in its
simulated day, whatever day of the run it is): its PV surplus over its own load plus
what its battery may discharge above the reserve SoC, capped by the P2P line rating.
When the agents share a :class:`P2PLine` (one process, as in ``gridpeer demo``) the line
is metered like a real one: energy flows for a trade only while both its seller's OUT
relay and its buyer's IN relay are closed, the line keeps one Wh counter per trade, and
both houses' meters read that counter. So the two meters of a trade agree to the Wh
however the agents' ticks interleave (a seller that metered instantaneous power while
its buyer sampled it a tick later disagreed by the power of that tick, which made fast
lines dispute trades). Without a shared line the buyer's IN meter reads the line rating
(the buyer's house, battery and grid connection absorb whatever arrives).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

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


@runtime_checkable
class TradeMeter(Protocol):
    """A power source that meters each trade on its own (a line with per-trade counters),
    so a house with several trades in a window needs no pro-rata convention."""

    def trade_wh(
        self, direction: Direction, now: datetime, trades: Mapping[int, float]
    ) -> dict[int, float] | None:
        """Energy each of ``trades`` carried through the relay of ``direction`` since this
        house's previous reading of that trade, Wh (0 at a trade's first reading); None
        when this source cannot tell trades apart (the caller splits :meth:`power_w`)."""
        ...


@dataclass
class _Flow:
    """One trade on the line: what its seller pushes (W), which relays are closed, and
    the Wh carried so far (advanced to ``at``, model seconds since the epoch)."""

    pushed_w: float = 0.0
    seller: bool = False
    buyer: bool = False
    at: float | None = None
    wh: float = 0.0

    def advance(self, t: float) -> None:
        if self.at is not None and t > self.at and self.seller and self.buyer:
            self.wh += self.pushed_w * (t - self.at) / 3600.0
        self.at = t if self.at is None else max(self.at, t)


@dataclass
class P2PLine:
    """The simulated delivery line, metered per trade.

    Energy flows for a trade only while both its relays are closed, at the power its
    seller last pushed (held until the next push); :meth:`carried_wh` is the trade's Wh
    counter, which both houses' meters read. Times are UTC model time.
    """

    _flows: dict[int, _Flow] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _flow(self, trade_id: int, now: datetime) -> _Flow:
        f = self._flows.setdefault(trade_id, _Flow())
        f.advance(now.timestamp())
        return f

    def push(self, trade_id: int, watts: float, now: datetime) -> None:
        """The seller of ``trade_id`` (its OUT relay closed) pushes ``watts`` W from ``now``."""
        with self._lock:
            f = self._flow(trade_id, now)
            f.pushed_w, f.seller = max(0.0, watts), True

    def draw(self, trade_id: int, now: datetime) -> None:
        """The buyer of ``trade_id`` has its IN relay closed at ``now``."""
        with self._lock:
            self._flow(trade_id, now).buyer = True

    def carried_wh(self, trade_id: int, now: datetime) -> float:
        """Energy the line has carried for ``trade_id`` up to ``now``, Wh."""
        with self._lock:
            return self._flow(trade_id, now).wh

    def release(self, trade_id: int, direction: Direction) -> None:
        """The ``direction`` relay of ``trade_id`` opened: nothing flows for it any more."""
        with self._lock:
            f = self._flows.get(trade_id)
            if f is None:
                return
            if direction is Direction.OUT:
                f.seller = False
            else:
                f.buyer = False
            if not f.seller and not f.buyer:
                del self._flows[trade_id]


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
        line: the shared, metered line (both houses read its Wh counters), or None.
    """

    trace: TraceSource | HouseTrace
    line_max_w: float = 3000.0
    bess_max_w: float = 0.0
    reserve_soc: float = 0.2
    line: P2PLine | None = None
    source: TraceSource = field(init=False, repr=False, compare=False)
    # shared-line metering: each trade's counter at this house's last reading (Wh), the
    # direction it was read for, and when each direction was last read
    _seen: dict[int, float] = field(default_factory=dict, init=False, repr=False, compare=False)
    _dirs: dict[int, Direction] = field(default_factory=dict, init=False, repr=False, compare=False)
    _prev: dict[Direction, datetime] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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
        """Without a shared line: OUT :meth:`available_w`, IN the line rating, W.

        On a shared line: the mean power the line carried for ``trades`` since this
        house's previous reading of ``direction``, W, from the trades' Wh counters (0 at
        the first reading of a trade, which starts its count). As seller, ``available_w``
        is pushed onto the line split by ``trades``' shares; as buyer, the IN relay
        closes for ``trades``.
        """
        if self.line is None or trades is None:
            return self.line_max_w if direction is Direction.IN else self.available_w(now)
        delta_wh = sum(self._read_line(self.line, direction, now, trades).values())
        prev = self._prev.get(direction)
        self._prev[direction] = now
        dt = (now - prev).total_seconds() if prev is not None else 0.0
        return delta_wh * 3600.0 / dt if delta_wh > 0 and dt > 0 else 0.0

    def trade_wh(
        self, direction: Direction, now: datetime, trades: Mapping[int, float]
    ) -> dict[int, float] | None:
        """On a shared line: each trade's Wh since this house's previous reading of it,
        from the line's per-trade counters — the same counter the other house reads, so
        both meters of a trade agree even when each house has several trades (a seller
        with two buyers, each with another seller). Without a line: None."""
        if self.line is None:
            return None
        deltas = self._read_line(self.line, direction, now, trades)
        self._prev[direction] = now
        return deltas

    def _read_line(
        self, line: P2PLine, direction: Direction, now: datetime, trades: Mapping[int, float]
    ) -> dict[int, float]:
        """Push (seller: ``available_w`` split by ``trades``' shares) or draw (buyer), then
        read each trade's counter: its Wh since this house's previous reading."""
        if direction is Direction.OUT:
            out = self.available_w(now)
            for tid, share in trades.items():
                line.push(tid, out * share, now)
        else:
            for tid in trades:
                line.draw(tid, now)
        deltas: dict[int, float] = {}
        for tid in trades:
            wh = line.carried_wh(tid, now)
            deltas[tid] = wh - self._seen.get(tid, wh)
            self._seen[tid], self._dirs[tid] = wh, direction
        return deltas

    def release(self, trade_id: int) -> None:
        """The relay of ``trade_id`` opened (seller's or buyer's): its flow stops."""
        direction = self._dirs.pop(trade_id, None)
        self._seen.pop(trade_id, None)
        if self.line is not None and direction is not None:
            self.line.release(trade_id, direction)
