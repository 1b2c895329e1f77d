"""Amounts as a person reads them: money in the community's currency, energy in Wh/kWh,
and short trade labels in place of the contract's packed ids.

Pure functions; money in wei, prices in wei per kWh, energy in Wh.
"""

from __future__ import annotations

from decimal import Decimal

from gridpeer.web.models_market import Currency

_M16 = (1 << 16) - 1


def money(wei: int, currency: Currency, per_kwh: bool = False) -> str:
    """``wei`` in the currency's units, e.g. ``"17.63 CLP"`` or ``"150 CLP/kWh"``.

    At most 6 decimals, trailing zeros dropped, thousands separated by commas.
    """
    value = Decimal(wei) / Decimal(int(currency.wei_per_unit))
    text = f"{value.quantize(Decimal('0.000001')):,f}".rstrip("0").rstrip(".")
    if text in ("", "-0"):
        text = "0"
    return f"{text} {currency.code}" + ("/kWh" if per_kwh else "")


def energy(wh: int) -> str:
    """``wh`` as ``"750 Wh"`` below 10 kWh, else ``"12.5 kWh"`` (commas for thousands)."""
    if abs(wh) < 10_000:
        return f"{wh:,} Wh"
    return f"{wh / 1000:,.1f} kWh".replace(".0 kWh", " kWh")


def trade_label(any_id: int) -> str:
    """A short readable name for an order or trade id of the market contract.

    The contract packs ids (``chain/contracts/EnergyMarket.sol``): offer *n* is
    ``n << 2 | 1`` (label ``O{n}``), request *n* is ``n << 2 | 2`` (``R{n}``); a trade
    that takes a whole order keeps the order's id (and label); the *k*-th partial fill of
    order *n* is ``((n << 1 | is_request) << 18) | k << 2 | 3`` (``O{n}.{k}`` /
    ``R{n}.{k}``); trade *j* (0-based) of batch *b* is ``(b << 16 | j) << 2``
    (``B{b}.{j+1}``).
    """
    tag = any_id & 3
    if tag == 1:
        return f"O{any_id >> 2}"
    if tag == 2:
        return f"R{any_id >> 2}"
    if tag == 3:
        order = any_id >> 18
        side = "R" if order & 1 else "O"
        return f"{side}{order >> 1}.{(any_id >> 2) & _M16}"
    return f"B{any_id >> 18}.{((any_id >> 2) & _M16) + 1}"
