"""A house's delivery relay (thesis: OUT relay at the seller, IN relay at the buyer).

Closed = energy flows through the P2P delivery line; open = it does not. Pure: switching
returns a new state; metering integrates power only while closed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Relay:
    """Relay state.

    Attributes:
        closed: True when the contact is closed (energy flows).
        switched_at: UTC time of the last switching, or None if never switched.
        switch_count: number of state changes so far.
    """

    closed: bool = False
    switched_at: datetime | None = None
    switch_count: int = 0

    def switch(self, closed: bool, at: datetime) -> Relay:
        """The relay after commanding it ``closed`` at UTC time ``at`` (idempotent)."""
        if at.tzinfo is None:
            raise ValueError("switching time must be timezone-aware (UTC)")
        if closed == self.closed:
            return self
        return replace(self, closed=closed, switched_at=at, switch_count=self.switch_count + 1)


def delivered_wh(power_w: npt.ArrayLike, closed: npt.ArrayLike, step_s: float) -> float:
    """Energy through a relay, Wh: sum of ``|power_w|`` (W) over steps of ``step_s`` s
    while ``closed`` (bool per step)."""
    power = np.abs(np.asarray(power_w, dtype=np.float64))
    mask = np.asarray(closed, dtype=bool)
    if power.shape != mask.shape:
        raise ValueError("power and relay state need one value per step each")
    if step_s <= 0:
        raise ValueError("step_s must be > 0 s")
    return float(np.sum(power[mask]) * step_s / 3600.0)
