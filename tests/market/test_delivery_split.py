"""The rule that splits one relay's metered energy among the trades of its window."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.market.delivery_split import round_group, share_energy, split_wh

contracts = st.lists(st.integers(1, 5_000), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 50_000), contracts)
def test_split_sums_to_the_metered_wh_capped_by_the_contracts(
    metered: int, contracted: list[int]
) -> None:
    parts = split_wh(metered, contracted)
    assert sum(parts) == min(metered, sum(contracted))
    assert all(0 <= p <= c for p, c in zip(parts, contracted, strict=True))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 50_000), contracts)
def test_split_is_pro_rata_within_one_wh(metered: int, contracted: list[int]) -> None:
    total = sum(contracted)
    share = min(metered, total) / total
    for p, c in zip(split_wh(metered, contracted), contracted, strict=True):
        assert abs(p - c * share) < 1.0


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0, 20_000),
    st.lists(st.tuples(st.integers(1, 5_000), st.floats(0, 1)), min_size=1, max_size=8),
)
def test_share_fills_what_is_missing_and_never_more(
    energy: float, trades: list[tuple[int, float]]
) -> None:
    contracted = [float(c) for c, _ in trades]
    measured = [c * f for c, f in trades]
    parts = share_energy(energy, contracted, measured)
    room = sum(c - m for c, m in zip(contracted, measured, strict=True))
    assert abs(sum(parts) - min(energy, room)) < 1e-6
    for p, c, m in zip(parts, contracted, measured, strict=True):
        assert -1e-12 <= p <= c - m + 1e-9


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 5_000), min_size=1, max_size=8))
def test_round_group_keeps_the_groups_whole_wh(values: list[float]) -> None:
    out = round_group(values)
    assert sum(out) == int(sum(values) + 1e-6)
    assert all(int(v) <= o <= int(v) + 1 for v, o in zip(values, out, strict=True))


def test_examples() -> None:
    assert split_wh(300, [200, 100]) == [200, 100]
    assert split_wh(150, [200, 100]) == [100, 50]
    assert split_wh(100, [1, 1, 1]) == [1, 1, 1]
    assert split_wh(2, [1, 1, 1]) == [1, 1, 0]  # remainder to the lowest id on ties
    assert split_wh(0, [5, 5]) == [0, 0]
