"""One direction of an emulated link (pure): which packets it drops and when it delivers
the others.

A packet of ``size`` bytes offered at time ``now`` (s) is dropped with probability
``loss``; otherwise it waits for the link to be free (packets are serialised at ``rate``
bytes/s, unlimited queue), then for ``delay`` plus a uniform jitter in
``[-jitter, +jitter]`` (never below 0). Packets leave in the order they came (FIFO, like
one radio link: jitter spreads the delays but never reorders), which keeps TCP out of
spurious fast retransmits that a reordering emulator (``netem`` with jitter) would cause.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class LinkParams:
    """Impairments of one house's link, applied in each direction.

    Attributes:
        loss: probability that a packet is dropped, 0..1 (per direction).
        delay_ms: one-way delay, ms (>= 0).
        jitter_ms: uniform jitter around ``delay_ms``, ms (>= 0).
        rate_bps: serialisation rate, bytes per second (``0`` = unlimited).
    """

    loss: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_bps: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"loss must be in 0..1, got {self.loss}")
        if self.delay_ms < 0 or self.jitter_ms < 0 or self.rate_bps < 0:
            raise ValueError("delay_ms, jitter_ms and rate_bps must be >= 0")


class LinkDirection:
    """The state of one direction: its parameters, RNG and when it is next free.

    Args:
        params: the impairments (replace :attr:`params` to change them at run time).
        seed: RNG seed (loss and jitter draws), so a run is reproducible packet by packet.
    """

    def __init__(self, params: LinkParams, seed: int) -> None:
        self.params = params
        self.rng = random.Random(seed)
        self.busy_until = 0.0  # s: the link finishes serialising its queue then
        self.last_out = 0.0  # s: the latest scheduled delivery (FIFO)
        self.sent = 0
        self.dropped = 0

    def offer(self, size: int, now: float) -> float | None:
        """Delivery time (s) of a ``size``-byte packet offered at ``now`` (s), or ``None``
        if the link drops it."""
        p = self.params
        if p.loss > 0.0 and self.rng.random() < p.loss:
            self.dropped += 1
            return None
        start = max(now, self.busy_until)
        done = start + (size / p.rate_bps if p.rate_bps > 0 else 0.0)
        self.busy_until = done
        jitter = self.rng.uniform(-p.jitter_ms, p.jitter_ms) if p.jitter_ms > 0 else 0.0
        at = done + max(p.delay_ms + jitter, 0.0) / 1000.0
        at = max(at, self.last_out)
        self.last_out = at
        self.sent += 1
        return at
