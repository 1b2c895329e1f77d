"""Hierarchical markets and trading preferences in the simulator: conservation, fees in
the bills, and the flat market when the structure is trivial."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.sim.engine import SimResult, make_config, simulate
from gridpeer.sim.kpis import Kpis
from gridpeer.sim.scenario import MarketStructure, Scenario, load_scenario

BASE = load_scenario("village-100")


def _with(
    structure: MarketStructure | None, preference: str = "none", premium: float = 0.0
) -> Scenario:
    groups = tuple(
        g.model_copy(update={"preference": preference, "premium": premium})
        if g.name == "consumer"
        else g
        for g in BASE.households
    )
    return BASE.model_copy(update={"market_structure": structure, "households": groups})


def _run(sc: Scenario, market: str = "uniform", houses: int = 30) -> SimResult:
    return simulate(make_config(sc, market, houses=houses, days=1, seed=4))


def _check(r: SimResult) -> None:
    h = r.ledger.house
    sources = h["pv_wh"] + h["discharge_wh"] + h["import_wh"] + h["p2p_bought_wh"]
    sinks = h["load_wh"] + h["charge_wh"] + h["export_wh"] + h["p2p_sold_wh"]
    np.testing.assert_array_equal(sources, sinks)
    assert h["p2p_bought_wh"].sum() == h["p2p_sold_wh"].sum()
    # buyers pay sellers exactly what sellers receive; fees go to the operator on top
    assert h["p2p_paid_wei"].sum() == h["p2p_received_wei"].sum()
    assert h["network_fee_wei"].sum() == r.ledger.series["network_fee_wei"].sum()
    k = Kpis(r)
    no_fee = (
        h["import_cost_wei"] - h["export_revenue_wei"] + h["p2p_paid_wei"] - h["p2p_received_wei"]
    )
    np.testing.assert_array_equal(k.bill_wei - no_fee, h["network_fee_wei"])


@pytest.mark.parametrize("market", ["uniform", "cda", "mid-market"])
def test_trivial_structure_is_the_flat_market(market: str) -> None:
    flat = _run(BASE, market)
    trivial = _run(_with(MarketStructure(hierarchical=True, zones=1)), market)
    for key, arr in flat.ledger.house.items():
        np.testing.assert_array_equal(trivial.ledger.house[key], arr, err_msg=key)


def test_feeder_fees_and_community_fees_reach_the_operator() -> None:
    ms = MarketStructure(hierarchical=True, zones=3, feeder_fee=2.0, community_fee=10.0)
    r = _run(_with(ms))
    _check(r)
    fees = int(r.ledger.house["network_fee_wei"].sum())
    assert fees > 0
    # every Wh traded paid 2 or 10 CLP/kWh (rounded down per trade): fees in that range
    p2p = int(r.ledger.house["p2p_bought_wh"].sum())
    wpu = BASE.tariff.wei_per_unit
    assert p2p * 2 * wpu // 1000 - 10**4 <= fees <= p2p * 10 * wpu // 1000


def test_preferences_pay_premiums_to_sellers() -> None:
    plain = _run(BASE)
    pref = _run(_with(None, "local", premium=15.0))
    _check(pref)
    # same energy, more money to the sellers (premium on preferred energy)
    assert (
        pref.ledger.house["p2p_received_wei"].sum() > plain.ledger.house["p2p_received_wei"].sum()
    )
    with pytest.raises(ValueError, match="unknown house"):
        _run(_with(MarketStructure(partners={"h1": "h999"})))


@settings(max_examples=6, deadline=None, derandomize=True)
@given(
    st.integers(1, 4),
    st.booleans(),
    st.floats(0, 20),
    st.floats(0, 20),
    st.sampled_from(["none", "local", "green"]),
    st.floats(0, 30),
    st.sampled_from(["uniform", "pay-as-bid", "sdr"]),
)
def test_random_structures_conserve_energy_and_money(
    zones: int,
    hierarchical: bool,
    f1: float,
    f2: float,
    preference: str,
    premium: float,
    market: str,
) -> None:
    ms = MarketStructure(
        hierarchical=hierarchical,
        zones=zones,
        feeder_fee=f1,
        community_fee=f2,
        partners={"h2": "h1", "h4": "h3"},
    )
    _check(_run(_with(ms, preference, premium), market, houses=12))


def test_zones_from_the_feeders_branches() -> None:
    pytest.importorskip("pandapower")
    from gridpeer.sim.scenario import Feeder

    ms = MarketStructure(hierarchical=True, zones="feeder", feeder_fee=1.0, community_fee=5.0)
    sc = _with(ms).model_copy(update={"feeder": Feeder(network="kerber-dorfnetz")})
    r = simulate(make_config(sc, "uniform", houses=60, days=1, seed=4))
    _check(r)
    assert r.feeder is not None
    zones = r.feeder.branch_zones()
    # Kerber Dorfnetz: six branches with loads leave the transformer
    assert len(set(zones.tolist())) == 6
    with pytest.raises(ValueError, match="needs a \\[feeder\\]"):
        _run(_with(ms))
    two = MarketStructure(zones="feeder", fee_matrix=((0.0, 1.0), (1.0, 0.0)))
    with pytest.raises(ValueError, match="has 7 zones"):
        simulate(make_config(sc.model_copy(update={"market_structure": two}), houses=60, days=1))
    with pytest.raises(ValueError, match="zones"):
        MarketStructure(zones=0)


def test_zone_fee_matrix_in_the_simulator() -> None:
    # one fee everywhere: the same ledgers as the level fees set to that fee
    same = MarketStructure(hierarchical=True, zones=2, fee_matrix=((4.0, 4.0), (4.0, 4.0)))
    levels = MarketStructure(hierarchical=True, zones=2, feeder_fee=4.0, community_fee=4.0)
    a, b = _run(_with(same)), _run(_with(levels))
    _check(a)
    assert a.ledger.house["network_fee_wei"].sum() > 0
    for key, arr in b.ledger.house.items():
        np.testing.assert_array_equal(a.ledger.house[key], arr, err_msg=key)
    # fees only across zones (diagonal 0): less than the flat fee, but not nothing
    across = MarketStructure(zones=2, fee_matrix=((0.0, 9.0), (9.0, 0.0)))
    c = _run(_with(across))
    _check(c)
    fees = int(c.ledger.house["network_fee_wei"].sum())
    p2p = int(c.ledger.house["p2p_bought_wh"].sum())
    assert 0 < fees < p2p * 9 * BASE.tariff.wei_per_unit // 1000
    # zones are house k mod 2: only odd-even pairs pay, so the houses' energy is the
    # same as without fees (fees are money only)
    np.testing.assert_array_equal(
        c.ledger.house["p2p_bought_wh"], _run(BASE).ledger.house["p2p_bought_wh"]
    )


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"zones": 2, "fee_matrix": ((0.0, 1.0),)}, "square"),
        ({"zones": 3, "fee_matrix": ((0.0, 1.0), (1.0, 0.0))}, "3 zones"),
        ({"zones": 2, "fee_matrix": ((0.0, -1.0), (1.0, 0.0))}, r"fee_matrix\[0\]\[1\]"),
        ({"zones": 1, "fee_matrix": ((1.0,),), "feeder_fee": 1.0}, "one or the other"),
    ],
)
def test_zone_fee_matrix_is_validated(values: dict[str, object], match: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=match):
        MarketStructure.model_validate(values)
