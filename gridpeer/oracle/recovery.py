"""Surviving a dependency that goes away: exponential backoff and one log line per outage.

:class:`Backoff` spaces reconnection attempts (wall seconds, doubling up to a cap);
:class:`Outage` logs a dependency's failure once when it starts and once when it ends
("back after N s"), however many attempts fail in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class Backoff:
    """Delays between attempts: ``first_s``, doubling up to ``max_s`` (wall seconds).

    Args:
        first_s: delay after the first failure.
        max_s: largest delay.
        now: monotonic clock (tests may pass their own).
    """

    def __init__(
        self, first_s: float = 0.1, max_s: float = 5.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        if first_s <= 0 or max_s < first_s:
            raise ValueError("need 0 < first_s <= max_s")
        self.first_s, self.max_s, self._now = first_s, max_s, now
        self._delay = 0.0
        self._next = 0.0

    @property
    def failing(self) -> bool:
        """True after a failure, until the next success."""
        return self._delay > 0

    def ready(self) -> bool:
        """True when an attempt may be made now."""
        return self._now() >= self._next

    def failed(self) -> float:
        """Record a failed attempt; returns the delay before the next one (s)."""
        self._delay = self.first_s if self._delay == 0 else min(self._delay * 2, self.max_s)
        self._next = self._now() + self._delay
        return self._delay

    def succeeded(self) -> None:
        """Record a success: the next failure starts from ``first_s`` again."""
        self._delay, self._next = 0.0, 0.0


class Outage:
    """Logs one dependency's outage once at its start and once at its end.

    Args:
        name: the dependency (e.g. ``"oracle state database"``).
        log: the logger to write to.
        now: monotonic clock.
    """

    def __init__(
        self, name: str, log: logging.Logger, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.name, self._log, self._now = name, log, now
        self.since: float | None = None
        self.count = 0  # outages seen so far

    @property
    def down(self) -> bool:
        """True during an outage."""
        return self.since is not None

    def failed(self, exc: BaseException) -> None:
        """A call to the dependency failed (logged only when an outage starts)."""
        if self.since is None:
            self.since = self._now()
            self.count += 1
            self._log.warning("%s unavailable (%s); retrying with backoff", self.name, exc)

    def ok(self) -> None:
        """A call succeeded (logged only when it ends an outage)."""
        if self.since is not None:
            self._log.warning("%s back after %.1f s", self.name, self._now() - self.since)
            self.since = None
