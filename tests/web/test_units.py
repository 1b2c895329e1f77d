"""Money, energy and trade labels as a person reads them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gridpeer.chain.types import batch_trade_id, id_kind, offer_id, request_id
from gridpeer.web.models_market import Currency
from gridpeer.web.units import energy, money, trade_label

CLP = Currency(code="CLP", wei_per_unit=str(10**12))


def test_money_and_energy() -> None:
    assert money(17_625_000_000_000, CLP) == "17.625 CLP"
    assert money(150 * 10**12, CLP, per_kwh=True) == "150 CLP/kWh"
    assert money(0, CLP) == "0 CLP"
    assert money(99_999 * 10**12, CLP) == "99,999 CLP"
    assert money(1, CLP) == "0 CLP"  # below a millionth of a unit
    assert energy(750) == "750 Wh" and energy(9_999) == "9,999 Wh"
    assert energy(12_500) == "12.5 kWh" and energy(5_000_000) == "5,000 kWh"


def partial_fill_id(order: int, k: int) -> int:
    """The contract's id of the k-th partial fill of ``order`` (EnergyMarket._trade)."""
    return ((order >> 2) << 1 | (order & 2) >> 1) << 18 | k << 2 | 3


def test_labels_of_the_issue_examples() -> None:
    assert trade_label(2097159) == "O4.1" and trade_label(24641543) == "O47.1"
    assert trade_label(offer_id(12)) == "O12" and trade_label(request_id(3)) == "R3"
    assert trade_label(batch_trade_id(4, 0)) == "B4.1"


@given(
    n=st.integers(1, 2**40),
    k=st.integers(1, 2**16 - 1),
    side=st.sampled_from([offer_id, request_id]),
)
def test_labels_name_the_order_and_the_fill(n: int, k: int, side: object) -> None:
    make = offer_id if side is offer_id else request_id
    oid = make(n)
    letter = "O" if id_kind(oid) == "offer" else "R"
    assert trade_label(oid) == f"{letter}{n}"
    tid = partial_fill_id(oid, k)
    assert id_kind(tid) == "trade"
    assert trade_label(tid) == f"{letter}{n}.{k}"


@given(st.sets(st.integers(1, 2**60), min_size=2, max_size=50))
def test_distinct_ids_get_distinct_labels(ids: set[int]) -> None:
    assert len({trade_label(i) for i in ids}) == len(ids)
