"""Request validation errors in the user's units.

The API takes prices in wei per kWh, energy in Wh and times in UTC unix seconds; a person
types CLP/kWh (the community's currency) and Wh. Pydantic's messages speak of the wire
values ("Input should be less than or equal to 18446744073709551615"); these say the
same in the units the person used ("price must be at most 18,446,744 CLP/kWh").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from gridpeer.web.models_market import Currency
from gridpeer.web.units import energy, money

_NAMES = {"price": "price", "wh": "energy", "start": "delivery start", "end": "delivery end"}


def problems(errors: Sequence[Any], currency: Currency) -> list[dict[str, Any]]:
    """FastAPI's 422 ``detail`` items (``loc``, ``msg``, ``type``) with ``msg`` in units."""
    out = []
    for e in errors:
        loc = list(e.get("loc", ()))
        field = str(loc[-1]) if loc else ""
        out.append({"loc": loc, "msg": message(field, e, currency), "type": e.get("type", "")})
    return out


def message(field: str, error: dict[str, Any], currency: Currency) -> str:
    """One error's message, in the field's unit where the field has one."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    limit = next((ctx[k] for k in ("le", "lt", "ge", "gt") if k in ctx), None)
    fmt = _formatter(field, currency)
    name = _NAMES.get(field, field)
    if fmt is None or not isinstance(limit, int):
        if field == "price" and kind.startswith("int"):
            return (
                f"price must be a number of {currency.code}/kWh "
                f"(the API takes whole wei per kWh; 1 {currency.code} = "
                f"{int(currency.wei_per_unit):,} wei)"
            )
        if fmt is not None and kind.startswith("int"):
            return f"{name} must be a whole number ({_unit(field, currency)})"
        return f"{name}: {error.get('msg', 'invalid')}" if name else str(error.get("msg"))
    if kind in ("greater_than", "greater_than_equal") and limit <= 1 and field != "wh":
        return f"{name} must be above 0 {_unit(field, currency)}"
    words = {
        "less_than_equal": "at most",
        "less_than": "below",
        "greater_than_equal": "at least",
        "greater_than": "above",
    }.get(kind, "within range, limit")
    return f"{name} must be {words} {fmt(limit)}"


def _unit(field: str, currency: Currency) -> str:
    return {"price": f"{currency.code}/kWh", "wh": "Wh"}.get(field, "UTC")


def _formatter(field: str, currency: Currency) -> Callable[[int], str] | None:
    if field == "price":
        return lambda v: money(v, currency, per_kwh=True)
    if field == "wh":
        return energy
    if field in ("start", "end"):
        return _utc
    return None


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(min(ts, 253_402_300_799), UTC).strftime("%Y-%m-%d %H:%M UTC")
