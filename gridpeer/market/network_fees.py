"""Network fees by electrical distance, paid by the buyer to the grid operator.

A fee matrix ``fee[s, b]`` (wei per kWh, integer >= 0) prices the use of the network
between seller ``s`` and buyer ``b`` (e.g. proportional to the resistance of the path
between their buses, or one fee per pair of zones; zero between houses on the same
bus). A match of ``e`` Wh then costs its buyer the match payment ``e * price // 1000``
(to the seller) plus the fee ``e * fee[s, b] // 1000`` (to the grid operator), both
rounded down as every payment (:mod:`gridpeer.market.money`). Hence, per slot and in
total: **paid by buyers == received by sellers + fees to the operator**, exactly.

``fee_matrix_from_distance`` turns a distance matrix (e.g. path resistance in ohms)
into a fee matrix: ``round(rate * distance)`` wei/kWh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridpeer.market.money import payments_wei_array

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def fee_matrix_from_distance(distance: FloatArray, wei_per_kwh_per_unit: float) -> IntArray:
    """Fee matrix, wei/kWh: ``round(rate * distance)`` per pair (distance >= 0, e.g. Ω)."""
    if (distance < 0).any() or wei_per_kwh_per_unit < 0:
        raise ValueError("distances and the fee rate must be >= 0")
    return np.rint(distance * wei_per_kwh_per_unit).astype(np.int64)


@dataclass(frozen=True)
class FeeSettlement:
    """Money of a set of matches with network fees, per house and for the operator.

    Attributes:
        payment_wei: per match, buyer to seller, wei.
        fee_wei: per match, buyer to the grid operator, wei.
        paid_wei: per house, payments plus fees it paid as buyer, wei.
        received_wei: per house, payments it received as seller, wei.
        fees_wei: per house, the fees it paid as buyer, wei.
        operator_wei: total fees received by the grid operator, wei.
    """

    payment_wei: IntArray
    fee_wei: IntArray
    paid_wei: IntArray
    received_wei: IntArray
    fees_wei: IntArray
    operator_wei: int


def settle_with_fees(
    buyer: IntArray,
    seller: IntArray,
    wh: IntArray,
    price: IntArray,
    fee: IntArray,
    houses: int,
) -> FeeSettlement:
    """Payments and network fees of matches (house indices, Wh, wei/kWh; ``fee`` is the
    (houses, houses) fee matrix indexed ``[seller, buyer]``)."""
    pay = payments_wei_array(wh, price)
    fee_rate = fee[seller, buyer] if wh.size else np.zeros(0, dtype=np.int64)
    fees = payments_wei_array(wh, fee_rate.astype(np.int64))
    per_fee = _sum_by(buyer, fees, houses)
    paid = _sum_by(buyer, pay, houses) + per_fee
    received = _sum_by(seller, pay, houses)
    return FeeSettlement(pay, fees, paid, received, per_fee, int(fees.sum()))


def _sum_by(index: IntArray, values: IntArray, n: int) -> IntArray:
    """Exact int64 sums of ``values`` per index (np.bincount would go through float)."""
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, index, values)
    return out
