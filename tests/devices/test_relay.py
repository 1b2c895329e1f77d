"""Relay model."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from gridpeer.devices.relay import Relay, delivered_wh

T0 = datetime(2025, 1, 1, 13, 0, tzinfo=UTC)


def test_switching_counts_changes_and_is_idempotent() -> None:
    relay = Relay()
    closed = relay.switch(True, T0)
    assert closed.closed and closed.switch_count == 1 and closed.switched_at == T0
    assert closed.switch(True, T0.replace(minute=5)) is closed
    opened = closed.switch(False, T0.replace(minute=10))
    assert not opened.closed and opened.switch_count == 2
    assert not relay.closed  # original unchanged


def test_naive_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Relay().switch(True, datetime(2025, 1, 1, 13, 0))


def test_delivered_energy_counts_only_closed_steps() -> None:
    power = np.array([600.0, -600.0, 600.0, 600.0])
    closed = np.array([True, True, False, True])
    assert delivered_wh(power, closed, 60) == pytest.approx(30.0)
    with pytest.raises(ValueError, match="one value per step"):
        delivered_wh(power, closed[:2], 60)
