"""Monitoring fails cleanly: clear errors, nothing left running."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress
from gridpeer.hems.monitoring import Monitoring
from gridpeer.store.factory import open_store
from tests.services.ports import free_port
from tests.telemetry.traces import make_trace

START = datetime(2026, 6, 1, tzinfo=UTC)


def test_unreachable_broker_raises_and_leaves_no_thread() -> None:
    store = open_store(":memory:")
    traces = [make_trace("h1", START)]
    mon = Monitoring(
        "lab", traces, BrokerAddress(port=free_port()), store, Clock(START), connect_timeout_s=1
    )
    before = set(threading.enumerate())
    with pytest.raises(ConnectionError, match=r"unreachable|refused"):
        asyncio.run(mon.run(asyncio.Event()))
    assert set(threading.enumerate()) <= before
    assert store.count() == 0
    store.close()


def test_duplicate_houses_and_bad_rate_are_refused() -> None:
    store = open_store(":memory:")
    clock = Clock(START)
    with pytest.raises(ValueError, match="duplicate house"):
        Monitoring("lab", [make_trace("h1", START)] * 2, BrokerAddress(), store, clock)
    with pytest.raises(ValueError, match="rate_s"):
        Monitoring("lab", [make_trace("h1", START)], BrokerAddress(), store, clock, rate_s=0)
    with pytest.raises(ValueError, match="invalid community"):
        Monitoring("la/b", [make_trace("h1", START)], BrokerAddress(), store, clock)
    store.close()
