"""What one simulated run measured (FlowMonitor totals over all flows of a scenario)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gridpeer.netsim.scenario import RunConfig


@dataclass(frozen=True)
class FlowTotals:
    """Totals over the flows of one run, as ns-3's FlowMonitor counts them.

    Bytes are IP packets (IP + UDP headers + payload), B. ``delay_sum_s`` sums the
    one-way delay of every received packet, s; ``jitter_sum_s`` sums
    ``|delay(k) - delay(k-1)|`` over consecutive received packets of each flow, s;
    ``jitter_samples`` counts those differences.
    """

    tx_packets: int
    rx_packets: int
    tx_bytes: int
    rx_bytes: int
    delay_sum_s: float
    jitter_sum_s: float
    jitter_samples: int
    flows: int


@dataclass(frozen=True)
class RunResult:
    """One point of the study: its configuration, totals and derived metrics."""

    config: RunConfig
    totals: FlowTotals
    offered_bps: float
    """Offered application load, bytes per second."""
    wall_s: float
    """Wall-clock time the simulation took, s."""

    @property
    def mean_delay_s(self) -> float:
        """Mean one-way delay of received packets, s (NaN if none arrived)."""
        t = self.totals
        return t.delay_sum_s / t.rx_packets if t.rx_packets else float("nan")

    @property
    def jitter_s(self) -> float:
        """Mean delay variation between consecutive packets of a flow, s (RFC 3550 style)."""
        t = self.totals
        return t.jitter_sum_s / t.jitter_samples if t.jitter_samples else float("nan")

    @property
    def delivery_ratio(self) -> float:
        """Packets received / packets sent, 0..1."""
        t = self.totals
        return t.rx_packets / t.tx_packets if t.tx_packets else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (used to pass results between processes)."""
        return {
            "config": asdict(self.config),
            "totals": asdict(self.totals),
            "offered_bps": self.offered_bps,
            "wall_s": self.wall_s,
        }
