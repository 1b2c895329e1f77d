"""A re-entrant lock granted in arrival order, for the one in-process chain.

The embedded chain (eth-tester) is not thread-safe, so every user — the web app's chain
thread, the JSON-RPC server, the oracle, the trading agents — holds one lock around each
call. A plain ``threading.RLock`` is not fair: a thread that releases it and asks again
at once (the trading agents posting 50 houses' orders one after another) nearly always
gets it back before a waiting thread wakes, and the web process's requests waited
minutes. :class:`FairLock` hands the lock to waiters first come, first served.
"""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType


class FairLock:
    """Re-entrant, first come first served. Use as ``with lock:``."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[object] = deque()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> bool:
        """Wait for our turn (immediately if this thread already holds it)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            ticket = object()
            self._queue.append(ticket)
            while self._owner is not None or self._queue[0] is not ticket:
                self._cond.wait()
            self._queue.popleft()
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        """Release once; the longest waiter gets it when the depth reaches zero.

        Raises:
            RuntimeError: this thread does not hold it.
        """
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a FairLock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
