"""The home agent's trading decision (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gridpeer.hems.strategy import PriceStrategy
from gridpeer.hems.trading_agent import Forecast, OwnerSettings, SlotView, decide

FEED_IN, IMPORT = 50 * 10**12, 150 * 10**12


def view(net: float, progress: float = 0.0, soc: float = 0.5, cap: float = 0.0) -> SlotView:
    return SlotView(net, 2000.0, 500.0, soc, cap, 13.0, FEED_IN, IMPORT, progress)


def test_surplus_is_offered_and_deficit_requested() -> None:
    [sell] = decide(OwnerSettings(), view(800.0))
    assert sell.side == "sell" and sell.energy_wh == 800
    [buy] = decide(OwnerSettings(), view(-300.0))
    assert buy.side == "buy" and buy.energy_wh == 300


def test_battery_above_reserve_adds_to_the_offer() -> None:
    [sell] = decide(OwnerSettings(), view(100.0, soc=0.9, cap=10_000.0))
    assert sell.energy_wh > 100
    [low] = decide(OwnerSettings(), view(100.0, soc=0.1, cap=10_000.0))
    assert low.energy_wh == 100


def test_switch_off_and_overrides() -> None:
    assert decide(OwnerSettings(enabled=False), view(800.0)) == []
    [o] = decide(OwnerSettings(sell_wh=42, price_wei_per_kwh=7), view(800.0))
    assert (o.side, o.energy_wh, o.price_wei_per_kwh) == ("sell", 42, 7)
    assert decide(OwnerSettings(), view(5.0)) == []  # below the minimum order


def test_clear_sky_forecast_is_used() -> None:
    [o] = decide(OwnerSettings(forecast=Forecast.CLEAR_SKY), view(-1000.0))
    assert o.side == "sell" and o.energy_wh == 1100  # 2000 * 0.8 - 500


@given(st.floats(0, 1), st.floats(-5000, 5000))
def test_prices_stay_between_tariffs_and_ramp_toward_grid(progress: float, net: float) -> None:
    for strat in PriceStrategy:
        for o in decide(OwnerSettings(strategy=strat), view(net, progress)):
            assert FEED_IN <= o.price_wei_per_kwh <= IMPORT
    if abs(net) >= 10:
        [early] = decide(OwnerSettings(), view(net, 0.0))
        [late] = decide(OwnerSettings(), view(net, 1.0))
        if early.side == "sell":
            assert late.price_wei_per_kwh == FEED_IN <= early.price_wei_per_kwh
        else:
            assert late.price_wei_per_kwh == IMPORT >= early.price_wei_per_kwh
