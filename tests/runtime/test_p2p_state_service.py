"""serve's P2P-totals service through an outage of the oracle's state database: one
warning when it starts, one when it ends, no traceback per round, and the totals are
published again once it is back."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from gridpeer.core.clock import Clock
from gridpeer.oracle.state import TradeState
from gridpeer.runtime import p2p_state


class FlakyState:
    """The oracle's state: fails while ``down``; one confirmed trade otherwise."""

    def __init__(self) -> None:
        self.down = False

    def trades(self, *states: TradeState) -> list[Any]:
        if self.down:
            raise OSError("connection to the database lost")
        row = SimpleNamespace(seller="h1", buyer="h2", delivered_wh=300, price_wei_per_kwh=1000)
        return [row]


class RecordingPublisher:
    def __init__(self) -> None:
        self.updates: list[int] = []

    def update(self, trades: Any, now: datetime) -> int:
        self.updates.append(sum(t.delivered_wh for t in trades))
        return 1


async def test_an_outage_is_logged_once_and_the_totals_resume(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = FlakyState()
    parts: Any = SimpleNamespace(
        oracle=SimpleNamespace(state=state), clock=Clock(start=datetime.now(UTC))
    )
    pub = RecordingPublisher()
    caplog.set_level(logging.INFO, logger="gridpeer.runtime.p2p_state")
    task = asyncio.create_task(p2p_state._run(pub, parts, poll_s=0.01))  # type: ignore[arg-type]
    try:
        while len(pub.updates) < 2:
            await asyncio.sleep(0.01)
        state.down = True
        await asyncio.sleep(0.2)  # ~20 failed rounds
        stalled = len(pub.updates)
        state.down = False
        while len(pub.updates) < stalled + 2:
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    records = [r for r in caplog.records if r.name == "gridpeer.runtime.p2p_state"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING]
    assert "unavailable" in records[0].getMessage() and "back after" in records[1].getMessage()
    assert all(r.exc_info is None for r in records)
    assert set(pub.updates) == {300}
