"""Exact money arithmetic: energy (Wh) × price (wei per kWh) → wei.

Rounding rule (one rule everywhere, on chain too): the payment for ``e`` Wh at ``p``
wei/kWh is ``e * p // 1000`` wei, i.e. rounded **down** to a whole wei. It is computed
once per match and the very same integer is debited from the buyer and credited to the
seller, so money paid == money received exactly; the rounding loss (< 1 wei per match)
stays with the buyer.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
ObjArray = npt.NDArray[np.object_]

WH_PER_KWH = 1000
_INT64_MAX = 2**63 - 1


def payment_wei(energy_wh: int, price_wei_per_kwh: int) -> int:
    """Payment in wei for ``energy_wh`` Wh at ``price_wei_per_kwh`` wei/kWh, rounded down.

    Raises:
        ValueError: negative energy or price.
    """
    if energy_wh < 0 or price_wei_per_kwh < 0:
        raise ValueError(
            f"energy and price must be >= 0, got {energy_wh} Wh at {price_wei_per_kwh} wei/kWh"
        )
    return energy_wh * price_wei_per_kwh // WH_PER_KWH


def payments_wei(energy_wh: IntArray, price_wei_per_kwh: IntArray) -> list[int]:
    """Element-wise :func:`payment_wei` for arrays (Wh, wei/kWh) → list of exact ints (wei).

    Uses int64 when the largest product cannot overflow, Python ints otherwise.
    """
    if energy_wh.size == 0:
        return []
    if int(energy_wh.max()) * int(price_wei_per_kwh.max()) <= _INT64_MAX:
        return [int(x) for x in (energy_wh * price_wei_per_kwh) // WH_PER_KWH]
    return [
        int(e) * int(p) // WH_PER_KWH
        for e, p in zip(energy_wh.tolist(), price_wei_per_kwh.tolist(), strict=True)
    ]


def total_payment_wei(energy_wh: IntArray, price_wei_per_kwh: IntArray) -> int:
    """Sum over matches of the rounded-down payments (wei); exact for any magnitude."""
    return sum(payments_wei(energy_wh, price_wei_per_kwh))


def payments_wei_array(energy_wh: IntArray, price_wei_per_kwh: IntArray) -> IntArray:
    """Element-wise :func:`payment_wei` as an int64 array (the fast path).

    Raises:
        OverflowError: a product Wh × price could exceed int64 (use :func:`payments_wei`).
    """
    if energy_wh.size == 0:
        return np.zeros(0, dtype=np.int64)
    if int(energy_wh.max()) * int(price_wei_per_kwh.max()) > _INT64_MAX:
        raise OverflowError("Wh x wei/kWh exceeds int64; use payments_wei for exact ints")
    return (energy_wh * price_wei_per_kwh) // WH_PER_KWH
