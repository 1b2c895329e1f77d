"""Sanity limits: tariff range, what a house can deliver, what a connection carries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gridpeer.web.limits import (
    CONNECTION_W,
    buy_problem,
    max_sell_wh,
    price_problem,
    sell_problem,
)
from gridpeer.web.models import HouseInfo, HouseKind
from gridpeer.web.models_market import Currency

CLP = Currency(code="CLP", wei_per_unit=str(10**12))
TARIFF = (180 * 10**12, 60 * 10**12)
H1 = HouseInfo(id="h1", name="House 1", kind=HouseKind.PV_BESS, pv_kwp=3.0, bess_kwh=5.0)
H4 = HouseInfo(id="h4", name="House 4", kind=HouseKind.CONSUMER)


def test_the_issue_examples_are_refused_with_a_reason() -> None:
    why = sell_problem(H1, 5_000_000, 3600)
    assert why is not None and "at most 8,000 Wh" in why and "3 kWp" in why
    why = price_problem(99_999 * 10**12, TARIFF, CLP)
    assert why == (
        "price 99,999 CLP/kWh is above the grid's import tariff (180 CLP/kWh): "
        "buying from the grid would be cheaper"
    )
    assert sell_problem(H4, 1, 3600) == "House 4 has no PV and no battery: it has no energy to sell"


@given(st.integers(60 * 10**12, 180 * 10**12))
def test_prices_in_the_tariff_range_pass(price: int) -> None:
    assert price_problem(price, TARIFF, CLP) is None


@given(wh=st.integers(1, 2**32 - 1), seconds=st.integers(60, 6 * 3600))
def test_limits_are_thresholds(wh: int, seconds: int) -> None:
    cap = max_sell_wh(H1, seconds)
    assert (sell_problem(H1, wh, seconds) is None) == (wh <= cap)
    assert (buy_problem(wh, seconds) is None) == (wh <= CONNECTION_W * seconds // 3600)
    assert sell_problem(None, wh, seconds) is None  # an outside wallet: no house to limit
