"""FairLock: first come, first served, re-entrant, and a thread that takes it again and
again cannot starve a waiter."""

from __future__ import annotations

import threading
import time

import pytest

from gridpeer.chain.fairlock import FairLock


def _wait_queued(lock: FairLock, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(lock._queue) < n:
        assert time.monotonic() < deadline, "thread never queued"
        time.sleep(0.001)


def test_waiters_get_it_in_arrival_order() -> None:
    lock = FairLock()
    order: list[int] = []
    lock.acquire()
    threads = []
    for k in range(6):

        def take(k: int = k) -> None:
            with lock:
                order.append(k)

        t = threading.Thread(target=take)
        t.start()
        _wait_queued(lock, k + 1)
        threads.append(t)
    lock.release()
    for t in threads:
        t.join(10)
    assert order == list(range(6))


def test_a_greedy_thread_cannot_starve_a_waiter() -> None:
    lock = FairLock()
    rounds = 0
    stop = threading.Event()

    def greedy() -> None:  # what the trading agents did with a plain RLock
        nonlocal rounds
        while not stop.is_set():
            with lock:
                rounds += 1

    g = threading.Thread(target=greedy)
    g.start()
    while rounds < 100:
        time.sleep(0.001)
    got_at: list[int] = []

    def waiter() -> None:
        with lock:
            got_at.append(rounds)

    w = threading.Thread(target=waiter)
    w.start()
    _wait_queued(lock, 1)
    asked_at = rounds
    w.join(10)
    stop.set()
    g.join(10)
    assert got_at and got_at[0] <= asked_at + 1  # at most the greedy round in progress


def test_reentrant_and_owned() -> None:
    lock = FairLock()
    with lock, lock:
        assert lock._depth == 2
    assert lock._owner is None
    with pytest.raises(RuntimeError, match="does not hold"):
        lock.release()
    lock.acquire()
    errors: list[Exception] = []

    def other() -> None:
        try:
            lock.release()
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert len(errors) == 1 and lock._owner == threading.get_ident()
    lock.release()
