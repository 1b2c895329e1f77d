"""Sanity limits of what a member may post or take, with the reason in words.

* Price (wei per kWh) within the grid's tariff range ``[feed-in, import]``: below the
  feed-in tariff a seller earns more selling to the grid, above the import tariff a
  buyer pays less buying from it.
* Energy a house sells in a delivery window (Wh) at most what it can deliver: its PV
  peak power for the whole window plus one full battery,
  ``pv_kwp * 1000 * hours + bess_kwh * 1000``.
* Energy a house buys in a window (Wh) at most what its grid connection carries,
  ``CONNECTION_W * hours``.

Pure functions; each returns ``None`` when the value is fine, else the reason.
"""

from __future__ import annotations

from gridpeer.web.models import HouseInfo
from gridpeer.web.models_market import Currency
from gridpeer.web.units import energy, money

CONNECTION_W = 9_200
"""A house's grid connection, W: single-phase 230 V x 40 A, a common residential fuse."""


def price_problem(price: int, tariff: tuple[int, int], currency: Currency) -> str | None:
    """Why ``price`` (wei/kWh) is outside the tariff range ``(import, feed-in)``, or None."""
    imp, feed = tariff
    if price > imp:
        return (
            f"price {money(price, currency, True)} is above the grid's import tariff "
            f"({money(imp, currency, True)}): buying from the grid would be cheaper"
        )
    if price < feed:
        return (
            f"price {money(price, currency, True)} is below the grid's feed-in tariff "
            f"({money(feed, currency, True)}): selling to the grid would pay more"
        )
    return None


def max_sell_wh(house: HouseInfo, seconds: int) -> int:
    """Wh ``house`` can deliver in a window of ``seconds``: PV peak all along + one full
    battery."""
    return int(house.pv_kwp * 1000 * seconds / 3600 + house.bess_kwh * 1000)


def max_buy_wh(seconds: int) -> int:
    """Wh a house's grid connection carries in a window of ``seconds``."""
    return CONNECTION_W * seconds // 3600


def sell_problem(house: HouseInfo | None, wh: int, seconds: int) -> str | None:
    """Why ``house`` cannot deliver ``wh`` Wh in a window of ``seconds``, or None.

    A seller that is no known house (an outside wallet) is not limited here.
    """
    if house is None:
        return None
    cap = max_sell_wh(house, seconds)
    if wh <= cap:
        return None
    if cap == 0:
        return f"{house.name} has no PV and no battery: it has no energy to sell"
    return (
        f"{energy(wh)} is more than {house.name} can deliver in {_hours(seconds)}: at most "
        f"{energy(cap)} ({house.pv_kwp:g} kWp of PV for the whole window plus a full "
        f"{house.bess_kwh:g} kWh battery)"
    )


def buy_problem(wh: int, seconds: int) -> str | None:
    """Why a house cannot take ``wh`` Wh in a window of ``seconds``, or None."""
    cap = max_buy_wh(seconds)
    if wh <= cap:
        return None
    return (
        f"{energy(wh)} is more than a house's grid connection carries in {_hours(seconds)}: "
        f"at most {energy(cap)} ({CONNECTION_W / 1000:g} kW)"
    )


def _hours(seconds: int) -> str:
    h = seconds / 3600
    return f"{h:g} h" if h >= 1 else f"{seconds // 60} min"
