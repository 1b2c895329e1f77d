"""One model time shared by separate processes (oracle, agents, tests).

:class:`gridpeer.sim.clock.Clock` counts from the moment it is created; processes that
must agree on model time anchor it at a common *wall-clock epoch* instead.
"""

from __future__ import annotations

import time
from datetime import datetime

from gridpeer.sim.clock import Clock


def epoch_clock(start: datetime, speed: float, wall0_epoch: float) -> Clock:
    """A clock whose model time is ``start`` at POSIX wall time ``wall0_epoch`` (s).

    Model time = ``start + (time.time() - wall0_epoch) * speed``.
    """
    clock = Clock(start=start, speed=speed)
    clock._wall0 = time.monotonic() - (time.time() - wall0_epoch)
    return clock
