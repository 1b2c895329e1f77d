"""The settlement rule (pure) and the oracle settings' check against the contract grace."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gridpeer.oracle.rules import Action, Tolerance, settle
from gridpeer.oracle.settings import OracleSettings, OracleTimingError

TOL = Tolerance(pct=2.0, wh=5)


@pytest.mark.parametrize(
    ("seller", "buyer", "deadline", "action", "wh", "reason"),
    [
        (100, 96, False, Action.CONFIRM, 96, "meters agree"),  # 4 <= 5 Wh: the lower
        (100, 90, False, Action.DISPUTE, 0, "meters disagree"),  # 10 > 5 Wh
        (100, 0, True, Action.DISPUTE, 0, "meters disagree"),  # a buyer reporting 0
        (100, None, False, Action.WAIT, 0, "waiting"),
        (100, None, True, Action.CONFIRM, 100, "buyer silent"),
        (None, 70, True, Action.CONFIRM, 70, "seller silent"),
        (None, None, True, Action.CONFIRM, 0, "both meters silent"),
        (None, None, False, Action.WAIT, 0, "waiting"),
        (130, 100, False, Action.CONFIRM, 100, "meters agree"),  # capped at the contract
        (None, 250, True, Action.CONFIRM, 100, "seller silent"),  # capped at the contract
    ],
)
def test_rule_table(
    seller: int | None, buyer: int | None, deadline: bool, action: Action, wh: int, reason: str
) -> None:
    v = settle(100, seller, buyer, deadline, TOL)
    assert (v.action, v.delivered_wh) == (action, wh) and v.reason.startswith(reason)


def test_relative_tolerance_for_large_trades() -> None:
    assert settle(2000, 1000, 981, False, TOL).action is Action.CONFIRM  # 19 <= 20 (2 %)
    assert settle(2000, 1000, 975, False, TOL).action is Action.DISPUTE  # 25 > 20


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="contracted"):
        settle(0, 1, 1, True)
    with pytest.raises(ValueError, match="seller_out"):
        settle(10, -1, 1, True)
    with pytest.raises(ValueError, match="tolerances"):
        Tolerance(pct=-1)


readings = st.none() | st.integers(0, 10**6)


@given(st.integers(1, 10**6), readings, readings, st.booleans())
def test_never_more_than_the_contract_nor_the_sellers_meter(
    contracted: int, seller: int | None, buyer: int | None, deadline: bool
) -> None:
    v = settle(contracted, seller, buyer, deadline, TOL)
    if v.action is Action.CONFIRM:
        assert 0 <= v.delivered_wh <= contracted
        if seller is not None:
            assert v.delivered_wh <= seller
    else:
        assert v.delivered_wh == 0
    if seller is not None and buyer is not None:
        assert v.action is not Action.WAIT  # both reported: decided without waiting
    elif deadline:
        assert v.action is Action.CONFIRM  # nobody can stall a trade past the deadline


def test_settings_must_settle_before_the_reclaim() -> None:
    s = OracleSettings()  # 600 s deadline + 120 s margin
    s.check_grace(720)
    with pytest.raises(OracleTimingError, match="contract's grace is 719 s"):
        s.check_grace(719)
    OracleSettings(result_grace_s=4.0, settle_margin_s=2.0).check_grace(8)


def test_ask_again_schedule() -> None:
    assert OracleSettings().asks_s() == (60.0, 180.0, 360.0)
    assert OracleSettings(result_grace_s=100, ask_again_s=(10, 50)).asks_s() == (10, 50)
    for bad in ((50, 10), (10, 100), (0, 10)):
        with pytest.raises(ValidationError, match="ask_again_s"):
            OracleSettings(result_grace_s=100, ask_again_s=bad)
