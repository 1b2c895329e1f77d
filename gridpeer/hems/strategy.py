"""Trading strategies of a home agent: forecasts, battery reserve and order prices.

Pure functions, vectorized over houses (numpy arrays with one entry per house, or
``(houses, slots)`` arrays) with a scalar wrapper for one house, so the community
simulator and the live home agent share the same decisions.

Units: energy in Wh, power in W, prices in integer wei per kWh, SoC 0..1,
``progress`` is the fraction 0..1 of the bidding window that has elapsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.int64]


class PriceStrategy(StrEnum):
    """How an agent prices its orders across the bidding window."""

    FIXED = "fixed"  # one price for the whole window
    RAMPING = "ramping"  # from a start price toward the grid tariff as the window closes


# ---------------------------------------------------------------- forecasts


def persistence_forecast(previous_wh: FloatArray) -> FloatArray:
    """Persistence forecast: the next period equals the same period of the last one.

    Args:
        previous_wh: energy per slot of the previous period (e.g. yesterday), Wh,
            any shape (``(houses, slots)`` or ``(slots,)``).

    Returns:
        The forecast, Wh, same shape (a copy).
    """
    return np.array(previous_wh, copy=True)


def noisy_forecast(actual_wh: FloatArray, sigma: float, rng: np.random.Generator) -> FloatArray:
    """A seeded imperfect forecast: the actual value times an unbiased log-normal error.

    Each entry is ``actual * exp(sigma * z - sigma**2 / 2)`` with ``z`` standard normal,
    independent per entry, so the forecast is unbiased (mean error 0), never negative,
    and zero where the actual value is zero (no PV forecast at night). ``sigma`` 0.3
    gives a relative error of about ±31 % (one standard deviation) and a mean absolute
    percentage error of about 24 %, typical of day-ahead forecasts of one household's
    15-minute PV or load.

    Args:
        actual_wh: the realised energy per slot, Wh, any shape.
        sigma: log-normal sigma of the error, >= 0 (0 = perfect forecast).
        rng: the seeded generator (seed it per day so every market design sees the
            same forecast).

    Returns:
        The forecast, Wh (float), same shape.
    """
    if sigma < 0.0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    actual = np.asarray(actual_wh, dtype=np.float64)
    z = rng.standard_normal(actual.shape)
    return np.asarray(actual * np.exp(sigma * z - sigma * sigma / 2.0), dtype=np.float64)


def clear_sky_forecast(
    clear_sky_pv_wh: FloatArray, load_forecast_wh: FloatArray, derate: float = 0.8
) -> FloatArray:
    """Net surplus forecast from clear-sky PV scaled by a derate and a load forecast.

    Args:
        clear_sky_pv_wh: PV energy per slot under a clear sky, Wh, shape ``(..., slots)``.
        load_forecast_wh: forecast household consumption per slot, Wh, same shape.
        derate: expected fraction of clear-sky production (clouds, soiling), 0..1.

    Returns:
        Forecast net surplus per slot, Wh: positive = surplus, negative = deficit.
    """
    if not 0.0 <= derate <= 1.0:
        raise ValueError(f"derate must be within 0..1, got {derate}")
    return np.asarray(clear_sky_pv_wh) * derate - np.asarray(load_forecast_wh)


def split_surplus_deficit(net_wh: FloatArray) -> tuple[IntArray, IntArray]:
    """Split a net energy forecast into order quantities.

    Args:
        net_wh: net surplus per house (or per house and slot), Wh; positive = surplus.

    Returns:
        ``(sell_wh, buy_wh)``: non-negative integer Wh to offer and to request
        (fractions of a Wh are left to the grid).
    """
    net = np.asarray(net_wh, dtype=np.float64)
    sell = np.floor(np.clip(net, 0.0, None)).astype(np.int64)
    buy = np.floor(np.clip(-net, 0.0, None)).astype(np.int64)
    return sell, buy


# ---------------------------------------------------------------- battery reserve


def reserve_soc(
    hour_of_day: FloatArray | float,
    evening_reserve: float = 0.3,
    evening_start_h: float = 17.0,
    evening_end_h: float = 23.0,
    floor: float = 0.1,
) -> FloatArray:
    """Minimum SoC the battery keeps for the household rather than selling or dispatching.

    Before the evening peak the agent holds ``evening_reserve`` for its own evening
    use; during the evening it may use it down to ``floor``.

    Args:
        hour_of_day: local hour of day, 0..24 (scalar or array).
        evening_reserve: SoC held until the evening, 0..1.
        evening_start_h: local hour the evening peak starts.
        evening_end_h: local hour it ends.
        floor: SoC never discharged below (battery health), 0..1.

    Returns:
        Reserve SoC, 0..1, shape of ``hour_of_day``.
    """
    if not 0.0 <= floor <= evening_reserve <= 1.0:
        raise ValueError("need 0 <= floor <= evening_reserve <= 1")
    h = np.asarray(hour_of_day, dtype=np.float64)
    in_evening = (h >= evening_start_h) & (h < evening_end_h)
    return np.where(in_evening, floor, evening_reserve)


def sellable_battery_wh(
    soc: FloatArray, capacity_wh: FloatArray, reserve: FloatArray, efficiency: float = 0.95
) -> FloatArray:
    """Energy a battery can sell without going under its reserve, Wh (>= 0).

    Args:
        soc: state of charge, 0..1, per house.
        capacity_wh: usable capacity, Wh, per house.
        reserve: reserve SoC, 0..1, per house (see :func:`reserve_soc`).
        efficiency: discharge efficiency, 0..1.
    """
    return np.clip(np.asarray(soc) - np.asarray(reserve), 0.0, None) * capacity_wh * efficiency


# ---------------------------------------------------------------- prices


@dataclass(frozen=True)
class PricePlan:
    """Start and end prices of one side of the market, wei per kWh, per house.

    A seller typically starts high and ends at the feed-in tariff (it never sells for
    less than the grid pays); a buyer starts low and ends at the import tariff.
    """

    start: IntArray
    end: IntArray
    strategy: PriceStrategy


def ramp_price(
    start: IntArray | int, end: IntArray | int, progress: float, strategy: PriceStrategy
) -> IntArray:
    """Order price at a point of the bidding window, integer wei per kWh.

    Args:
        start: price at the opening of the window, wei/kWh.
        end: price at its close (for ramping), wei/kWh.
        progress: elapsed fraction of the bidding window, 0..1.
        strategy: :class:`PriceStrategy`; ``fixed`` always returns ``start``.

    Returns:
        ``start + (end - start) * progress`` rounded toward ``start`` (ramping), or ``start``.
    """
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must be within 0..1, got {progress}")
    s = np.asarray(start, dtype=np.int64)
    if strategy is PriceStrategy.FIXED:
        return s.copy()
    e = np.asarray(end, dtype=np.int64)
    step = np.trunc((e - s).astype(np.float64) * progress).astype(np.int64)
    return s + step


def seller_plan(
    feed_in: IntArray, import_price: IntArray, strategy: PriceStrategy, markup: float = 0.9
) -> PricePlan:
    """Seller prices: start at ``feed_in + markup * (import - feed_in)``, end at feed-in.

    Args:
        feed_in: feed-in tariff per house, wei/kWh.
        import_price: import tariff per house, wei/kWh.
        strategy: fixed or ramping.
        markup: where between the two tariffs the seller starts, 0..1.
    """
    fi = np.asarray(feed_in, dtype=np.int64)
    imp = np.asarray(import_price, dtype=np.int64)
    start = fi + np.floor((imp - fi) * markup).astype(np.int64)
    return PricePlan(start=start, end=fi.copy(), strategy=strategy)


def buyer_plan(
    feed_in: IntArray, import_price: IntArray, strategy: PriceStrategy, markdown: float = 0.9
) -> PricePlan:
    """Buyer prices: start at ``import - markdown * (import - feed_in)``, end at import.

    Args:
        feed_in: feed-in tariff per house, wei/kWh.
        import_price: import tariff per house, wei/kWh.
        strategy: fixed or ramping.
        markdown: where between the two tariffs the buyer starts, 0..1.
    """
    fi = np.asarray(feed_in, dtype=np.int64)
    imp = np.asarray(import_price, dtype=np.int64)
    start = imp - np.floor((imp - fi) * markdown).astype(np.int64)
    return PricePlan(start=start, end=imp.copy(), strategy=strategy)


def plan_price(plan: PricePlan, progress: float) -> IntArray:
    """Prices of a :class:`PricePlan` at ``progress`` (0..1) of the window, wei/kWh."""
    return ramp_price(plan.start, plan.end, progress, plan.strategy)


# ---------------------------------------------------------------- one house


def house_order_price(
    side: str,
    feed_in: int,
    import_price: int,
    progress: float,
    strategy: PriceStrategy | str = PriceStrategy.RAMPING,
    spread: float = 0.9,
) -> int:
    """Scalar API for one house: the price of its order now, integer wei per kWh.

    Args:
        side: ``"sell"`` or ``"buy"``.
        feed_in: feed-in tariff, wei/kWh.
        import_price: import tariff, wei/kWh.
        progress: elapsed fraction of the bidding window, 0..1.
        strategy: ``"fixed"`` or ``"ramping"``.
        spread: markup (seller) or markdown (buyer) from the opposite tariff, 0..1.
    """
    strat = PriceStrategy(strategy)
    fi = np.array([feed_in], dtype=np.int64)
    imp = np.array([import_price], dtype=np.int64)
    if side == "sell":
        plan = seller_plan(fi, imp, strat, spread)
    elif side == "buy":
        plan = buyer_plan(fi, imp, strat, spread)
    else:
        raise ValueError(f"side must be 'sell' or 'buy', got {side!r}")
    return int(plan_price(plan, progress)[0])


def house_order_wh(
    forecast_net_wh: float, soc: float, capacity_wh: float, hour_of_day: float
) -> tuple[int, int]:
    """Scalar API for one house: ``(sell_wh, buy_wh)`` to post for the next slot.

    The forecast surplus is offered, plus what the battery can spare above its reserve
    when the house is in surplus; a forecast deficit is requested.

    Args:
        forecast_net_wh: forecast net surplus of the slot, Wh (positive = surplus).
        soc: battery state of charge now, 0..1 (any value if no battery).
        capacity_wh: usable battery capacity, Wh (0 = no battery).
        hour_of_day: local hour of the slot, 0..24.
    """
    sell, buy = split_surplus_deficit(np.array([forecast_net_wh]))
    if sell[0] > 0 and capacity_wh > 0:
        spare = sellable_battery_wh(
            np.array([soc]), np.array([capacity_wh]), reserve_soc(np.array([hour_of_day]))
        )
        sell = sell + np.floor(spare).astype(np.int64)
    return int(sell[0]), int(buy[0])
