"""Confirmation rule and delivery message schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gridpeer.oracle.rules import delivered_wh, payment_wei
from gridpeer.telemetry.delivery import (
    DeliveryCommand,
    DeliveryResult,
    Direction,
    command_topic,
    result_filter,
    result_topic,
)

T0 = datetime(2026, 1, 1, 13, tzinfo=UTC)
wh = st.integers(min_value=0, max_value=10**9)


@given(wh, wh, wh)
def test_delivered_is_min_and_never_exceeds_any_side(c: int, s: int, b: int) -> None:
    d = delivered_wh(c, s, b)
    assert d <= c and d <= s and d <= b
    assert d in (c, s, b)


@given(wh, st.integers(min_value=0, max_value=10**24))
def test_payment_plus_refund_is_the_escrow(e: int, price: int) -> None:
    contracted = e + 7
    paid = payment_wei(e, price)
    escrow = payment_wei(contracted, price)
    assert 0 <= paid <= escrow


def test_negative_energy_is_refused() -> None:
    with pytest.raises(ValueError, match="energies must be >= 0"):
        delivered_wh(10, -1, 5)


def test_command_roundtrip_and_validation() -> None:
    cmd = DeliveryCommand(
        trade_id=3,
        house="h1",
        direction=Direction.OUT,
        target_wh=500,
        window_start=T0,
        window_end=T0 + timedelta(hours=1),
    )
    assert DeliveryCommand.model_validate_json(cmd.model_dump_json()) == cmd
    with pytest.raises(ValidationError, match="window_end must be after"):
        DeliveryCommand(
            trade_id=3, house="h1", direction="in", target_wh=5, window_start=T0, window_end=T0
        )
    with pytest.raises(ValidationError):
        DeliveryCommand(
            trade_id=3,
            house="h1",
            direction="in",
            target_wh=0,
            window_start=T0,
            window_end=T0 + timedelta(hours=1),
        )
    with pytest.raises(ValidationError, match="timezone"):
        DeliveryCommand(
            trade_id=3,
            house="h1",
            direction="in",
            target_wh=5,
            window_start=datetime(2026, 1, 1),
            window_end=T0,
        )
    with pytest.raises(ValidationError):
        DeliveryResult.model_validate_json(b'{"trade_id": 1, "house": "h/1"}')


def test_topics() -> None:
    assert command_topic("c", "h1") == "gridpeer/c/h1/cmd/delivery"
    assert result_topic("c", "h1", 7) == "gridpeer/c/h1/delivery/result/7"
    assert result_filter("c") == "gridpeer/c/+/delivery/result/+"
