"""EIP-1559 fee suggestions and replacement bumps (pure, property-based)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.chain.fees import FeePolicy, Fees, bump, suggest

GWEI = 10**9
wei = st.integers(min_value=0, max_value=10**15)


def fees() -> st.SearchStrategy[Fees]:
    return st.tuples(wei, wei).map(lambda p: Fees(max_fee=p[0] + p[1], priority=p[1]))


def test_suggestion_is_twice_the_next_base_fee_plus_the_median_tip() -> None:
    f = suggest(10 * GWEI, [2 * GWEI, 3 * GWEI, 50 * GWEI], FeePolicy())
    assert f == Fees(max_fee=23 * GWEI, priority=3 * GWEI)


def test_tip_is_clamped_to_the_policy_and_defaults_to_its_floor() -> None:
    policy = FeePolicy(min_tip_wei=GWEI, max_tip_wei=5 * GWEI)
    assert suggest(7, [], policy).priority == GWEI
    assert suggest(7, [1, 2, 3], policy).priority == GWEI
    assert suggest(7, [10**12], policy).priority == 5 * GWEI


def test_suggestion_respects_the_cap() -> None:
    f = suggest(100 * GWEI, [GWEI], FeePolicy(max_fee_cap_wei=50 * GWEI))
    assert f.max_fee == 50 * GWEI and f.priority == GWEI


@given(old=fees(), now=fees())
def test_a_replacement_raises_both_fees_by_at_least_12_5_percent(old: Fees, now: Fees) -> None:
    new = bump(old, now, FeePolicy())
    assert new.priority * 8 >= old.priority * 9 and new.priority > old.priority
    assert new.max_fee * 8 >= old.max_fee * 9 and new.max_fee > old.max_fee
    assert new.priority >= now.priority and new.max_fee >= now.max_fee
    assert new.max_fee >= new.priority


@given(old=fees(), now=fees(), cap=wei)
def test_a_capped_bump_never_offers_more_than_the_cap(old: Fees, now: Fees, cap: int) -> None:
    new = bump(old, now, FeePolicy(max_fee_cap_wei=cap))
    assert new == old or new.max_fee <= cap


def test_fees_refuse_a_tip_above_the_max_fee() -> None:
    with pytest.raises(ValueError):
        Fees(max_fee=1, priority=2)
