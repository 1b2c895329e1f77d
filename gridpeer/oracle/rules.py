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

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gridpeer.market.delivery_split import split_wh


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


@dataclass(frozen=True)
class Reading:
    """One trade's metered results as the oracle has them.

    Attributes:
        trade_id: the trade.
        seller: seller's house; buyer: buyer's house.
        window: delivery window (start, end).
        contracted_wh: the trade's energy, Wh.
        seller_out_wh: the seller's OUT reading, Wh, or None (not reported).
        buyer_in_wh: the buyer's IN reading, Wh, or None (not reported).
    """

    trade_id: int
    seller: str
    buyer: str
    window: tuple[datetime, datetime]
    contracted_wh: int
    seller_out_wh: int | None
    buyer_in_wh: int | None


def attribute(readings: Sequence[Reading]) -> dict[int, tuple[int | None, int | None]]:
    """Each trade's (seller, buyer) readings as the rule compares them, Wh.

    A house's meter serves all its trades of a window at once, and its agent splits what
    it metered among them pro rata to their contracts (docs/delivery.md): for a house with
    several trades in a window, that side's per-trade value is a convention, not a
    measurement. So when one side of a window's trades shares a meter (a buyer with several
    sellers, or a seller with several buyers) and every trade on the other side has a
    meter of its own, the shared meter's **total** is attributed to the trades in
    proportion to the other side's capped readings (:func:`split_wh`): a seller who
    delivered is credited what its own meter measured, as long as the buyer's meter
    confirms the group's total within the tolerance. Until every trade of such a group has
    both readings, the shared side is withheld (the rule waits, or at the deadline applies
    its silent-meter rows). Many-to-many groups keep their per-trade readings.
    """
    out = {r.trade_id: (r.seller_out_wh, r.buyer_in_wh) for r in readings}
    by_buyer: dict[tuple[str, tuple[datetime, datetime]], list[Reading]] = defaultdict(list)
    by_seller: dict[tuple[str, tuple[datetime, datetime]], list[Reading]] = defaultdict(list)
    for r in readings:
        by_buyer[(r.buyer, r.window)].append(r)
        by_seller[(r.seller, r.window)].append(r)
    for group in by_buyer.values():  # one buyer's meter, several sellers' meters
        if len(group) > 1 and all(len(by_seller[(r.seller, r.window)]) == 1 for r in group):
            if any(r.seller_out_wh is None or r.buyer_in_wh is None for r in group):
                out.update({r.trade_id: (r.seller_out_wh, None) for r in group})
                continue
            total = sum(r.buyer_in_wh or 0 for r in group)
            sides = [min(r.seller_out_wh or 0, r.contracted_wh) for r in group]
            for r, b in zip(group, split_wh(total, sides), strict=True):
                out[r.trade_id] = (r.seller_out_wh, b)
    for group in by_seller.values():  # one seller's meter, several buyers' meters
        if len(group) > 1 and all(len(by_buyer[(r.buyer, r.window)]) == 1 for r in group):
            if any(r.seller_out_wh is None or r.buyer_in_wh is None for r in group):
                out.update({r.trade_id: (None, r.buyer_in_wh) for r in group})
                continue
            total = sum(r.seller_out_wh or 0 for r in group)
            sides = [min(r.buyer_in_wh or 0, r.contracted_wh) for r in group]
            for r, s in zip(group, split_wh(total, sides), strict=True):
                out[r.trade_id] = (s, r.buyer_in_wh)
    return out


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
