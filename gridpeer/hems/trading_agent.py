"""The home agent's trading decision for one house and one delivery slot (pure).

Reuses the simulator's strategies (:mod:`gridpeer.hems.strategy`): a surplus/deficit
forecast for the slot (persistence or clear-sky), battery-aware quantities (the battery
only sells above its reserve SoC), and prices from a fixed or ramping plan across the
bidding window. The owner can switch the agent off or override quantity and price.

Units: energy Wh, prices wei per kWh, SoC 0..1, hours local 0..24.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from gridpeer.hems.strategy import (
    PriceStrategy,
    clear_sky_forecast,
    house_order_price,
    house_order_wh,
    persistence_forecast,
)


class Forecast(StrEnum):
    """Forecast method for the slot's net surplus."""

    PERSISTENCE = "persistence"  # same slot yesterday
    CLEAR_SKY = "clear_sky"  # derated clear-sky PV minus a load forecast


@dataclass(frozen=True)
class OwnerSettings:
    """What the owner decided for the agent (per house).

    Attributes:
        enabled: False switches the agent off (it posts nothing).
        strategy: price strategy (``fixed`` or ``ramping``).
        forecast: forecast method.
        spread: where between the tariffs the first price sits, 0..1.
        sell_wh / buy_wh: owner override of the quantity, Wh (None = agent decides).
        price_wei_per_kwh: owner override of the price, wei/kWh (None = strategy).
        min_order_wh: smaller quantities are left to the grid, Wh.
    """

    enabled: bool = True
    strategy: PriceStrategy = PriceStrategy.RAMPING
    forecast: Forecast = Forecast.PERSISTENCE
    spread: float = 0.9
    sell_wh: int | None = None
    buy_wh: int | None = None
    price_wei_per_kwh: int | None = None
    min_order_wh: int = 10


@dataclass(frozen=True)
class SlotView:
    """What the agent knows about the coming slot.

    Attributes:
        yesterday_net_wh: the same slot's net surplus yesterday, Wh (+ surplus).
        clear_sky_pv_wh: clear-sky PV energy of the slot, Wh.
        load_forecast_wh: forecast consumption of the slot, Wh.
        soc: battery SoC now, 0..1; capacity_wh: usable capacity, Wh (0 = none).
        hour_of_day: local hour of the slot start.
        feed_in / import_price: grid tariffs, wei/kWh.
        progress: elapsed fraction of the bidding window, 0..1.
    """

    yesterday_net_wh: float
    clear_sky_pv_wh: float
    load_forecast_wh: float
    soc: float
    capacity_wh: float
    hour_of_day: float
    feed_in: int
    import_price: int
    progress: float


@dataclass(frozen=True)
class Intent:
    """An order the agent wants posted: ``side`` ``sell``/``buy``, Wh, wei/kWh."""

    side: str
    energy_wh: int
    price_wei_per_kwh: int


def forecast_net_wh(settings: OwnerSettings, view: SlotView) -> float:
    """The slot's forecast net surplus, Wh (+ surplus, - deficit)."""
    if settings.forecast is Forecast.PERSISTENCE:
        return float(persistence_forecast(np.array([view.yesterday_net_wh]))[0])
    return float(
        clear_sky_forecast(np.array([view.clear_sky_pv_wh]), np.array([view.load_forecast_wh]))[0]
    )


def decide(settings: OwnerSettings, view: SlotView) -> list[Intent]:
    """Orders to post for the slot now (empty when switched off or nothing to trade)."""
    if not settings.enabled:
        return []
    sell, buy = house_order_wh(
        forecast_net_wh(settings, view), view.soc, view.capacity_wh, view.hour_of_day
    )
    return priced_intents(settings, view, sell, buy)


def priced_intents(
    settings: OwnerSettings, view: SlotView, sell: float, buy: float
) -> list[Intent]:
    """The orders for ``sell`` / ``buy`` Wh (the owner's fixed amounts override them;
    amounts below ``min_order_wh`` are skipped), priced at the owner's fixed price or by
    :func:`house_order_price` along the session, wei/kWh."""
    if settings.sell_wh is not None:
        sell = settings.sell_wh
    if settings.buy_wh is not None:
        buy = settings.buy_wh
    out: list[Intent] = []
    for side, wh in (("sell", sell), ("buy", buy)):
        if wh < max(1, settings.min_order_wh):
            continue
        price = settings.price_wei_per_kwh
        if price is None:
            price = house_order_price(
                side,
                view.feed_in,
                view.import_price,
                view.progress,
                settings.strategy,
                settings.spread,
            )
        out.append(Intent(side, int(wh), int(price)))
    return out
