"""Bidding windows from the contract's schedule, slot views from traces, and the demo's
trading service making trades between simulated houses (pyrevm chain)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.events import OrderPosted, TradeCreated
from gridpeer.chain.hub import ChainHub
from gridpeer.core.clock import Clock
from gridpeer.core.settings import load_settings
from gridpeer.devices.trace import HouseTrace
from gridpeer.hems.trading_agent import OwnerSettings
from gridpeer.hems.trading_service import BidWindow, open_windows, trading_agents, window_view
from gridpeer.market.clearing import GridPrices
from gridpeer.runtime.composition import Parts
from gridpeer.runtime.services import trading

DAY = 86_400
D0 = 1_800_000_000 // DAY * DAY  # a UTC midnight


def test_thesis_windows_in_local_time() -> None:
    s = Schedule("windows", tz_minutes=-240)  # UTC-4: local 10:30 = 14:30 UTC
    local_midnight = D0 + 4 * 3600
    assert open_windows(s, local_midnight + 10 * 3600) == []  # 10:00 local: closed
    [w] = open_windows(s, local_midnight + 11 * 3600)
    assert w == BidWindow(
        local_midnight + 630 * 60, local_midnight + 780 * 60, local_midnight + 840 * 60
    )
    assert 0 < w.progress(local_midnight + 11 * 3600) < 1
    [w2] = open_windows(s, local_midnight + 15 * 3600)
    assert w2.start == local_midnight + 990 * 60
    assert open_windows(Schedule("open"), D0) == []
    [c] = open_windows(Schedule("continuous", slot_minutes=15), D0 + 100)
    assert c.start == D0 + 900 and c.end == D0 + 1800


def trace(house: str, pv: float, load: float) -> HouseTrace:
    n = 288
    z = np.zeros(n)
    return HouseTrace(
        house,
        datetime.fromtimestamp(D0, UTC),
        300,
        z + load,
        z + pv,
        z,
        z,
        z,
        z,
        z + 0.5,
        z,
        z + 230.0,
    )


def test_window_view_integrates_the_trace_over_the_window() -> None:
    v = window_view(
        trace("h1", 3000.0, 1000.0), BidWindow(D0, D0 + 3600, D0 + 7200), D0, 0.0, 0, 0.5, PRICES
    )
    assert v.yesterday_net_wh == 2000.0 and v.clear_sky_pv_wh == 3000.0
    v2 = window_view(
        trace("h1", 3000.0, 1000.0),
        BidWindow(D0, D0 + DAY + 3600, D0 + DAY + 7200),
        D0,
        0.0,
        0,
        0.5,
        PRICES,
    )
    assert v2.yesterday_net_wh == 2000.0  # a fixed trace repeats


def test_window_view_reads_the_windows_own_day_from_a_daily_source() -> None:
    """A window on the run's third day, crossing midnight, sees that day's flows."""
    from tests.devices.test_trace import T0, fake_day

    src, _ = fake_day()  # load = day of month, W: 1 W on day 0, 3 W on day 2, 4 W on day 3
    t0 = int(T0)
    v = window_view(
        src, BidWindow(t0, t0 + 3 * DAY - 3600, t0 + 3 * DAY + 3600), t0, 0.0, 0, 0.5, PRICES
    )
    assert v.load_forecast_wh == 3.0 + 4.0 and v.yesterday_net_wh == -7.0


PRICES = GridPrices(180 * 10**12, 60 * 10**12)


def _hub() -> tuple[ChainHub, int]:
    now = D0 + 11 * 3600  # bidding for 13:00-14:00 UTC is open
    chain = open_chain("revm", genesis_time=now)
    market = chain.deploy_market()
    market.set_schedule(chain.admin, Schedule("windows"))
    keys = chain.houses(2, market)
    clock = Clock(start=datetime.fromtimestamp(now, UTC), speed=1e-6)
    return ChainHub(market, clock, {"h1": keys[0], "h2": keys[1]}, follow_clock=False), now


HOUSES = {"h1": (trace("h1", 3000.0, 500.0), 0.0), "h2": (trace("h2", 0.0, 800.0), 0.0)}


async def test_agents_off_leave_trading_to_people() -> None:
    hub, _ = _hub()
    parts = Parts(load_settings(None, agents=False), hub.clock, Path("."), [], [], hub=hub)
    async with trading(parts):
        await asyncio.sleep(0.5)
    assert parts.trading is None
    assert not [e for e in hub.market.events(0) if isinstance(e, OrderPosted | TradeCreated)]


async def test_service_trades_surplus_to_deficit() -> None:
    hub, now = _hub()
    market, orders = hub.market, hub.orders
    async with trading_agents(hub, HOUSES, hub.clock, asyncio.Event(), PRICES, 10**9) as agents:
        await asyncio.sleep(0.5)
        w = (D0 + 13 * 3600, D0 + 14 * 3600)
        offer = agents["h1"].posted[(w, "sell")]
        assert offer[2] == 2500  # 2500 W surplus over the hour
        # the buyer's first round ran before it could see the offer: it posted a request;
        # put the offer in the book and run another round at a later, ramped price
        orders[offer[0]] = market.order(offer[0])
        request = agents["h2"].posted[(w, "buy")]
        assert request[2] == 800
        agents["h2"].settings = OwnerSettings(price_wei_per_kwh=200 * 10**12)  # owner override
        view = window_view(HOUSES["h2"][0], BidWindow(now, *w), now, 0.0, 0, 0.9, PRICES)
        agents["h2"].act(w, view)
    assert agents["h2"].traded[(w, "buy")] == 800  # bought from h1's offer
    assert market.order(offer[0]).remaining_wh == 1700  # type: ignore[union-attr]
    assert market.order(request[0]).remaining_wh == 0  # type: ignore[union-attr]
