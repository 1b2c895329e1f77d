"""A meter shared by a window's trades is judged by its total (oracle.rules.attribute)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gridpeer.market.delivery_split import split_wh
from gridpeer.oracle.rules import Action, Reading, Tolerance, attribute, settle

W0 = datetime(2026, 6, 1, 17, tzinfo=UTC)
W = (W0, W0 + timedelta(hours=1))
LATER = (W0 + timedelta(hours=3), W0 + timedelta(hours=4))


def _r(tid: int, seller: str, buyer: str, wh: int, out: int | None, in_: int | None) -> Reading:
    return Reading(tid, seller, buyer, W, wh, out, in_)


def _verdicts(rs: list[Reading]) -> dict[int, tuple[Action, int]]:
    got = attribute(rs)
    out = {}
    for r in rs:
        v = settle(r.contracted_wh, *got[r.trade_id], deadline_passed=False)
        out[r.trade_id] = (v.action, v.delivered_wh)
    return out


def test_a_buyer_with_three_sellers_pays_each_what_its_meter_measured() -> None:
    # h4 bought 400 + 250 + 150 Wh; h3 could deliver only 100. h4's one meter counted 750 Wh
    # and its agent split them pro rata to the contracts: 375 / 234 / 141.
    ins = split_wh(750, [400, 250, 150])
    assert ins == [375, 234, 141]
    rs = [
        _r(1, "h1", "h4", 400, 400, ins[0]),
        _r(2, "h2", "h4", 250, 250, ins[1]),
        _r(3, "h3", "h4", 150, 100, ins[2]),
    ]
    # per trade, h3's 100 vs 141 (and 400 vs 375) would be disputes; as a total they agree
    assert settle(150, 100, 141, False).action is Action.DISPUTE
    assert _verdicts(rs) == {
        1: (Action.CONFIRM, 400),
        2: (Action.CONFIRM, 250),
        3: (Action.CONFIRM, 100),
    }


def test_a_buyer_whose_meter_saw_much_less_disputes_the_window() -> None:
    ins = split_wh(600, [400, 250, 150])  # the sellers claim 750 in all
    rs = [
        _r(1, "h1", "h4", 400, 400, ins[0]),
        _r(2, "h2", "h4", 250, 250, ins[1]),
        _r(3, "h3", "h4", 150, 100, ins[2]),
    ]
    assert {a for a, _ in _verdicts(rs).values()} == {Action.DISPUTE}


def test_a_seller_with_two_buyers_is_judged_by_its_total() -> None:
    outs = split_wh(350, [300, 100])  # the seller's meter: 350 Wh, split 263 / 87
    rs = [_r(1, "h3", "h4", 300, outs[0], 300), _r(2, "h3", "h5", 100, outs[1], 50)]
    assert _verdicts(rs) == {1: (Action.CONFIRM, 300), 2: (Action.CONFIRM, 50)}


def test_the_shared_side_waits_for_the_whole_group() -> None:
    rs = [_r(1, "h1", "h4", 400, 400, 375), _r(2, "h2", "h4", 250, None, 234)]
    got = attribute(rs)
    assert got == {1: (400, None), 2: (None, None)}
    assert settle(400, *got[1], deadline_passed=False).action is Action.WAIT
    # at the deadline the silent-meter rows apply: the seller who reported is paid
    assert settle(400, *got[1], deadline_passed=True).delivered_wh == 400


def test_one_to_one_and_many_to_many_keep_their_readings() -> None:
    one = [_r(1, "h1", "h2", 300, 290, 280)]
    assert attribute(one) == {1: (290, 280)}
    mesh = [  # h1 and h2 both sell to h4 and h5: no side has meters of its own
        _r(1, "h1", "h4", 100, 90, 80),
        _r(2, "h1", "h5", 100, 90, 95),
        _r(3, "h2", "h4", 100, 70, 60),
        _r(4, "h2", "h5", 100, 70, 75),
    ]
    assert attribute(mesh) == {r.trade_id: (r.seller_out_wh, r.buyer_in_wh) for r in mesh}
    other_window = [_r(1, "h1", "h4", 400, 400, 375), Reading(2, "h2", "h4", LATER, 250, 250, 250)]
    assert attribute(other_window) == {1: (400, 375), 2: (250, 250)}


@given(
    contracts=st.lists(st.integers(1, 2000), min_size=2, max_size=6),
    delivered=st.lists(st.floats(0, 1.2), min_size=6, max_size=6),
    meter_gap=st.floats(0.8, 1.1),
)
def test_a_buyers_group_never_credits_more_than_either_side_measured(
    contracts: list[int], delivered: list[float], meter_gap: float
) -> None:
    outs = [min(c, round(c * d)) for c, d in zip(contracts, delivered, strict=False)]
    total_in = round(sum(outs) * meter_gap)
    ins = split_wh(total_in, contracts)
    rs = [
        _r(i, f"s{i}", "b", c, o, b)
        for i, (c, o, b) in enumerate(zip(contracts, outs, ins, strict=True))
    ]
    got = attribute(rs)
    buyer_side = [got[r.trade_id][1] or 0 for r in rs]
    assert sum(buyer_side) == min(sum(ins), sum(outs))
    verdicts = [settle(r.contracted_wh, *got[r.trade_id], False, Tolerance()) for r in rs]
    paid = sum(v.delivered_wh for v in verdicts if v.action is Action.CONFIRM)
    assert paid <= min(sum(ins), sum(outs))  # never more than either meter measured
    for r, v in zip(rs, verdicts, strict=True):
        assert v.delivered_wh <= min(r.contracted_wh, r.seller_out_wh or 0)
