"""EIP-1559 transaction fees: what to offer, and how to bump a stuck transaction (pure).

All amounts are **wei per gas**. A type-2 transaction offers ``max_fee`` (the most it pays
per gas) and ``priority`` (the tip to the block producer, at most ``max_fee`` minus the
block's base fee); it pays ``min(max_fee, base_fee + priority)`` per gas used.

* :func:`suggest` reads the node's recent history (``eth_feeHistory``): the tip is the
  median of recent blocks' median tips, clamped to the policy's floor and ceiling, and the
  max fee is twice the next block's base fee plus the tip (room for six full blocks of
  +12.5 % base-fee rises before the transaction stops being includable).
* :func:`bump` prices a replacement of a transaction that was not mined in time: same
  nonce, both fees raised by at least :data:`BUMP_NUM`/:data:`BUMP_DEN` (+12.5 %, above the
  10 % geth, anvil and Besu require to accept a replacement) and never below what the node
  suggests now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

BUMP_NUM, BUMP_DEN = 9, 8
"""A replacement offers at least 9/8 (+12.5 %) of each fee of the transaction it replaces."""


@dataclass(frozen=True)
class Fees:
    """An EIP-1559 fee offer (wei per gas)."""

    max_fee: int
    priority: int

    def __post_init__(self) -> None:
        if self.priority < 0 or self.max_fee < self.priority:
            raise ValueError(f"need 0 <= priority <= max_fee, got {self}")


@dataclass(frozen=True)
class FeePolicy:
    """How a backend prices and replaces its transactions.

    Attributes:
        min_tip_wei: floor of the tip (wei per gas).
        max_tip_wei: ceiling of the suggested tip (wei per gas); bumps may exceed it.
        max_fee_cap_wei: most any transaction offers per gas, bumps included (None: no cap).
        history_blocks: blocks of ``eth_feeHistory`` the tip is taken from.
        refresh_s: wall s a suggestion is reused before the node is asked again.
        replace_after_s: wall s a sent transaction may stay unmined before it is replaced.
        gap_check_s: wall s unmined after which the node's nonce is checked once for a
            gap below the transaction (a restarted node that lost earlier ones).
        receipt_timeout_s: wall s after the first send before giving up on a transaction.
        poll_s: longest wall s between two receipt checks (they start at 2 ms).
    """

    min_tip_wei: int = 10**9
    max_tip_wei: int = 100 * 10**9
    max_fee_cap_wei: int | None = None
    history_blocks: int = 10
    refresh_s: float = 1.0
    replace_after_s: float = 30.0
    gap_check_s: float = 2.0
    receipt_timeout_s: float = 300.0
    poll_s: float = 0.25


def suggest(next_base_fee: int, tips: Sequence[int], policy: FeePolicy) -> Fees:
    """Fees for a new transaction.

    Args:
        next_base_fee: base fee of the next block (wei per gas).
        tips: recent blocks' median tips (wei per gas; empty blocks left out).
        policy: tip floor and ceiling, fee cap.
    """
    tip = int(median(tips)) if tips else policy.min_tip_wei
    tip = min(max(tip, policy.min_tip_wei), policy.max_tip_wei)
    return _capped(Fees(max_fee=2 * next_base_fee + tip, priority=tip), policy)


def bump(old: Fees, now: Fees, policy: FeePolicy) -> Fees:
    """Fees for the replacement of a transaction sent with ``old`` that was not mined.

    Each fee is the larger of ``old`` raised by +12.5 % (rounded up, at least +1 wei) and
    the current suggestion ``now``. Returns ``old`` itself when the cap forbids a valid
    bump (the caller keeps waiting for the transaction it has).
    """
    priority = max(_raised(old.priority), now.priority)
    max_fee = max(_raised(old.max_fee), now.max_fee, priority)
    new = Fees(max_fee=max_fee, priority=priority)
    cap = policy.max_fee_cap_wei
    if cap is not None and new.max_fee > cap:
        return old
    return new


def _raised(fee: int) -> int:
    return max(fee + 1, -(-fee * BUMP_NUM // BUMP_DEN))


def _capped(fees: Fees, policy: FeePolicy) -> Fees:
    cap = policy.max_fee_cap_wei
    if cap is None or fees.max_fee <= cap:
        return fees
    return Fees(max_fee=cap, priority=min(fees.priority, cap))
