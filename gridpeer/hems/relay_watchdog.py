"""One thread for the relay dead-man switches of many houses.

Every :class:`~gridpeer.hems.device_power.DevicePower` must open a relay nobody meters
any more (its ``check``). With a thread per house that is hundreds of threads in a
process driving hundreds of houses; a :class:`RelayWatchdog` runs the checks of all the
powers registered with it from one thread, every ``period_s`` wall seconds. It starts
with its first registration and stops with its last removal, so a house's power keeps
its own start/stop semantics whether its watchdog is shared or not.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class Checked(Protocol):
    """Something with a periodic check (a house's relays)."""

    def check(self) -> None:
        """Open the relays nobody holds any more."""


class RelayWatchdog:
    """Calls ``check()`` of every registered object every ``period_s`` s (one thread).

    Args:
        period_s: wall seconds between two rounds.
        name: the thread's name.
    """

    def __init__(self, period_s: float = 0.5, name: str = "relay-watchdog") -> None:
        if period_s <= 0:
            raise ValueError("period_s must be > 0")
        self.period_s, self.name = period_s, name
        self._checked: list[Checked] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, item: Checked) -> None:
        """Check ``item`` from now on (the first one starts the thread)."""
        with self._lock:
            if any(c is item for c in self._checked):
                return
            self._checked.append(item)
            if self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name=self.name, daemon=True
                )
                self._thread.start()

    def remove(self, item: Checked) -> None:
        """Check ``item`` no more; the last one stops (and joins) the thread."""
        with self._lock:
            self._checked = [c for c in self._checked if c is not item]
            thread = self._thread if not self._checked else None
            if thread is not None:
                self._thread = None
                self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def __len__(self) -> int:
        return len(self._checked)

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.period_s):
            with self._lock:
                items = list(self._checked)
            for item in items:
                if stop.is_set():
                    return
                try:
                    item.check()
                except Exception:
                    log.exception("relay watchdog failed")
