"""The settlement rule the oracle applies to metered deliveries (pure).

Both houses' meters report the energy of one trade: the seller's OUT meter and the
buyer's IN meter (integer Wh). Readings above the contracted energy are capped at it
(a relay that opened a little late delivered nothing the buyer paid for). Then:

=========================  =====================================================
seller OUT / buyer IN      verdict
=========================  =====================================================
both, agreeing             **confirm the lower** of the two (capped) readings
both, disagreeing          **dispute**: the trade is frozen on chain (no reclaim)
                           until the admin or a community meter settles it
seller only, at deadline   **confirm the seller's** reading (a silent buyer
                           cannot veto payment)
buyer only, at deadline    **confirm the buyer's** reading (what the buyer admits
                           having received)
neither, at deadline       **confirm 0 Wh**: the buyer is refunded at once
either missing, before     **wait** (the oracle re-sends commands and asks again)
=========================  =====================================================

Two readings *agree* when they differ by at most ``max(tolerance_wh,
tolerance_pct % of the larger capped reading)``; e.g. with 2 % and 5 Wh, 100 and 96 Wh
agree (4 ≤ 5), 1,000 and 975 Wh do not (25 > 20). The deadline is ``window_end +
result_grace_s`` (see :mod:`gridpeer.oracle.settings`). The seller is never paid for more
than its own meter measured whenever it reported, nor for more than was contracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What the oracle does with a trade."""

    WAIT = "wait"  # a reading is missing and the deadline has not passed
    CONFIRM = "confirm"  # confirmDelivery(delivered_wh)
    DISPUTE = "dispute"  # openDispute(seller_wh, buyer_wh)


@dataclass(frozen=True)
class Tolerance:
    """How far two meters may differ and still agree.

    Attributes:
        pct: relative tolerance, percent of the larger capped reading (>= 0).
        wh: absolute tolerance, Wh (>= 0); the larger of the two tolerances applies.
    """

    pct: float = 2.0
    wh: int = 5

    def __post_init__(self) -> None:
        if self.pct < 0 or self.wh < 0:
            raise ValueError(f"tolerances must be >= 0, got pct={self.pct} wh={self.wh}")

    def allows(self, a_wh: int, b_wh: int) -> bool:
        """True when readings ``a_wh`` and ``b_wh`` (Wh) agree."""
        limit = max(self.wh, int(self.pct * max(a_wh, b_wh) / 100))
        return abs(a_wh - b_wh) <= limit


@dataclass(frozen=True)
class Verdict:
    """The rule's decision for one trade.

    Attributes:
        action: wait, confirm or dispute.
        delivered_wh: Wh to confirm (CONFIRM only, else 0); never above the contract.
        reason: short human-readable reason (logged, stored with the trade).
    """

    action: Action
    delivered_wh: int
    reason: str


def settle(
    contracted_wh: int,
    seller_out_wh: int | None,
    buyer_in_wh: int | None,
    deadline_passed: bool,
    tolerance: Tolerance = Tolerance(),
) -> Verdict:
    """Apply the settlement rule (see the module docstring).

    Args:
        contracted_wh: energy of the trade, Wh (> 0).
        seller_out_wh: the seller's OUT reading, Wh, or None while it has not reported.
        buyer_in_wh: the buyer's IN reading, Wh, or None while it has not reported.
        deadline_passed: True once ``window_end + result_grace_s`` has passed.
        tolerance: when two readings agree.

    Raises:
        ValueError: on a negative energy or a non-positive contract.
    """
    if contracted_wh <= 0:
        raise ValueError(f"contracted energy must be > 0 Wh, got {contracted_wh}")
    for name, v in (("seller_out", seller_out_wh), ("buyer_in", buyer_in_wh)):
        if v is not None and v < 0:
            raise ValueError(f"{name} must be >= 0 Wh, got {v}")
    s = None if seller_out_wh is None else min(seller_out_wh, contracted_wh)
    b = None if buyer_in_wh is None else min(buyer_in_wh, contracted_wh)
    if s is not None and b is not None:
        if tolerance.allows(s, b):
            return Verdict(Action.CONFIRM, min(s, b), f"meters agree ({s} / {b} Wh)")
        return Verdict(Action.DISPUTE, 0, f"meters disagree ({s} / {b} Wh)")
    if not deadline_passed:
        return Verdict(Action.WAIT, 0, "waiting for results")
    if s is not None:
        return Verdict(Action.CONFIRM, s, f"buyer silent: seller's meter counts ({s} Wh)")
    if b is not None:
        return Verdict(Action.CONFIRM, b, f"seller silent: buyer's meter counts ({b} Wh)")
    return Verdict(Action.CONFIRM, 0, "both meters silent: buyer refunded")


def delivered_wh(contracted_wh: int, seller_out_wh: int, buyer_in_wh: int) -> int:
    """Energy both meters vouch for, Wh: ``min(contracted, seller OUT, buyer IN)``.

    The value confirmed when both meters report and agree (:func:`settle`).

    Raises:
        ValueError: if any amount is negative.
    """
    if min(contracted_wh, seller_out_wh, buyer_in_wh) < 0:
        raise ValueError(
            f"energies must be >= 0 Wh, got contracted={contracted_wh} "
            f"seller_out={seller_out_wh} buyer_in={buyer_in_wh}"
        )
    return min(contracted_wh, seller_out_wh, buyer_in_wh)


def payment_wei(energy_wh: int, price_wei_per_kwh: int) -> int:
    """Payment for ``energy_wh`` Wh at ``price_wei_per_kwh`` wei/kWh, rounded down (wei)."""
    if energy_wh < 0 or price_wei_per_kwh < 0:
        raise ValueError("energy and price must be >= 0")
    return energy_wh * price_wei_per_kwh // 1000
