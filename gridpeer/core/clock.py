"""One clock for the live system and the simulator.

A :class:`Clock` maps wall time to *model* time. ``speed=1`` is real time; ``speed=240``
runs a day in six minutes. Everything that needs "now" (sensor nodes, agents, the
oracle, the web app) takes a clock, so the same code runs live and accelerated.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass(init=False)
class Clock:
    """Model time = ``start + (wall - wall_at_start) * speed``.

    Args:
        start: model time at which the clock starts (UTC-aware). Defaults to now.
        speed: model seconds per wall second (1.0 = real time). Must be > 0.
        held: start held: ``now()`` is exactly ``start`` until :meth:`release`, however
            much wall time passes (a run that sets up first, e.g. ``gridpeer demo``).
    """

    # defaults so that a dataclass subclass (a test's manual clock) gets a working __init__
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    speed: float = 1.0
    _wall0: float = field(default_factory=time.monotonic, repr=False)
    """Monotonic wall time (s) at which model time was ``start``."""
    _held: tuple[float, float] | None = field(default=None, repr=False)
    """(wall0, monotonic time) while held: model time stands still (:meth:`hold`)."""

    def __init__(
        self, start: datetime | None = None, speed: float = 1.0, *, held: bool = False
    ) -> None:
        self.start = datetime.now(UTC) if start is None else start
        self.speed = speed
        self._wall0 = time.monotonic()
        self._held = (self._wall0, self._wall0) if held else None
        self.__post_init__()

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {self.speed}")
        if self.start.tzinfo is None:
            raise ValueError("clock start must be timezone-aware (UTC)")

    def now(self) -> datetime:
        """Current model time (UTC-aware)."""
        held = self._held  # one read: hold/release swap it whole
        if held is not None:
            return self.start + timedelta(seconds=(held[1] - held[0]) * self.speed)
        return self.start + timedelta(seconds=(time.monotonic() - self._wall0) * self.speed)

    @property
    def held(self) -> bool:
        """Whether model time stands still (between :meth:`hold` and :meth:`release`)."""
        return self._held is not None

    def hold(self) -> None:
        """Stop model time where it is (e.g. while a big demo sets up), until
        :meth:`release`. Sleeps still take wall time."""
        if self._held is None:
            self._held = (self._wall0, time.monotonic())

    def release(self) -> None:
        """Let model time run again from where :meth:`hold` stopped it."""
        held = self._held
        if held is not None:
            self._wall0 = held[0] + (time.monotonic() - held[1])
            self._held = None

    def timestamp(self) -> float:
        """Current model time as a POSIX timestamp in seconds."""
        return self.now().timestamp()

    def wall_seconds(self, model_seconds: float) -> float:
        """Wall-clock seconds that ``model_seconds`` of model time take."""
        return model_seconds / self.speed

    async def sleep(self, model_seconds: float) -> None:
        """Sleep for ``model_seconds`` of model time."""
        await asyncio.sleep(max(0.0, self.wall_seconds(model_seconds)))


def epoch_clock(start: datetime, speed: float, wall0_epoch: float) -> Clock:
    """A clock whose model time is ``start`` at POSIX wall time ``wall0_epoch`` (s), so
    separate processes (oracle, agents, tests) agree on model time.

    Model time = ``start + (time.time() - wall0_epoch) * speed``.
    """
    clock = Clock(start=start, speed=speed)
    clock._wall0 = time.monotonic() - (time.time() - wall0_epoch)
    return clock
