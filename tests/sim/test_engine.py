"""The simulation loop: conservation of energy and money, determinism, stopping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.market.money import payments_wei_array
from gridpeer.sim.engine import I64, SimResult, Simulation, make_config, simulate
from gridpeer.sim.market_adapter import MARKETS, Trades
from gridpeer.sim.report import write_report
from gridpeer.sim.scenario import Scenario, load_scenario

LAB = load_scenario("village-100")


def _check_house_balance(r: SimResult) -> None:
    h = r.ledger.house
    sources = h["pv_wh"] + h["discharge_wh"] + h["import_wh"] + h["p2p_bought_wh"]
    sinks = h["load_wh"] + h["charge_wh"] + h["export_wh"] + h["p2p_sold_wh"]
    np.testing.assert_array_equal(sources, sinks)
    assert (h["import_wh"] >= 0).all() and (h["export_wh"] >= 0).all()
    assert h["p2p_bought_wh"].sum() == h["p2p_sold_wh"].sum()
    assert h["p2p_paid_wei"].sum() == h["p2p_received_wei"].sum()


@pytest.mark.parametrize("market", list(MARKETS))
def test_energy_and_money_conserved_per_slot_and_in_totals(market: str) -> None:
    cfg = make_config(LAB, market, houses=30, days=1, seed=3)
    slots: list[tuple[int, Trades, I64]] = []
    r = Simulation(cfg, settle=lambda g, t, wh: slots.append((g, t, wh))).run()
    assert r.slots_done == 96 and not r.interrupted
    _check_house_balance(r)
    s = r.ledger.trimmed_series()
    # community balance per slot (P2P is internal)
    np.testing.assert_array_equal(
        s["pv_wh"] + s["discharge_wh"] + s["import_wh"],
        s["load_wh"] + s["charge_wh"] + s["export_wh"],
    )
    assert [g for g, _, _ in slots] == list(range(96))
    delivered = sum(int(wh.sum()) for _, _, wh in slots)
    assert delivered == int(s["p2p_wh"].sum()) > 0
    assert delivered <= sum(int(t.wh.sum()) for _, t, _ in slots)
    paid = sum(int(payments_wei_array(wh, t.price).sum()) for _, t, wh in slots)
    assert paid == int(r.ledger.house["p2p_paid_wei"].sum())
    for _, t, wh in slots:
        assert (t.buyer != t.seller).all()
        assert (t.wh > 0).all()
        assert ((wh >= 0) & (wh <= t.wh)).all()


def test_p2p_never_worse_for_the_community_than_no_p2p() -> None:
    r = simulate(make_config(LAB, "uniform", houses=40, days=2, seed=5))
    h = r.ledger.house
    assert h["import_wh"].sum() <= h["base_import_wh"].sum()
    assert h["import_wh"].sum() < h["base_import_wh"].sum()  # something was traded
    bills = (
        h["import_cost_wei"] - h["export_revenue_wei"] + h["p2p_paid_wei"] - h["p2p_received_wei"]
    )
    base = h["base_import_cost_wei"] - h["base_export_revenue_wei"]
    assert bills.sum() < base.sum()
    # uniform price lies between the tariffs: nobody loses against the grid
    assert (bills <= base + 1).all()


@pytest.mark.parametrize("forecast", ["noisy", "persistence", "clear-sky"])
def test_forecast_orders_deliver_at_most_what_was_contracted(forecast: str) -> None:
    sc = LAB.model_copy(update={"strategy": LAB.strategy.model_copy(update={"forecast": forecast})})
    r = simulate(make_config(sc, "uniform", houses=30, days=2, seed=2))
    h = r.ledger.house
    _check_house_balance(r)
    assert (h["p2p_bought_wh"] <= h["contracted_bought_wh"]).all()
    assert (h["p2p_sold_wh"] <= h["contracted_sold_wh"]).all()
    assert h["contracted_bought_wh"].sum() > h["p2p_bought_wh"].sum() > 0


def _kpi_bytes(tmp: Path, sc: Scenario, seed: int, market: str = "pay-as-bid") -> bytes:
    r = simulate(make_config(sc, market, houses=25, days=2, seed=seed))
    write_report(r, tmp)
    return (tmp / "kpis_houses.csv").read_bytes() + (tmp / "kpis_community.csv").read_bytes()


def test_same_seed_gives_byte_identical_kpi_csv(tmp_path: Path) -> None:
    a = _kpi_bytes(tmp_path / "a", LAB, seed=11)
    b = _kpi_bytes(tmp_path / "b", LAB, seed=11)
    c = _kpi_bytes(tmp_path / "c", LAB, seed=12)
    assert a == b
    assert a != c


def test_designs_see_the_same_households_and_weather() -> None:
    a = simulate(make_config(LAB, "uniform", houses=20, days=1, seed=4))
    b = simulate(make_config(LAB, "sdr", houses=20, days=1, seed=4))
    for k in ("pv_wh", "load_wh", "charge_wh", "discharge_wh", "base_import_wh"):
        np.testing.assert_array_equal(a.ledger.house[k], b.ledger.house[k])


def test_stop_keeps_what_is_done() -> None:
    cfg = make_config(LAB, "uniform", houses=10, days=2, seed=1)
    sim = Simulation(cfg)
    r = sim.run(should_stop=lambda: sim.ledger.slots_done >= 100)
    assert r.interrupted
    assert r.slots_done == 100
    assert r.ledger.trimmed_series()["load_wh"].shape == (100,)
    _check_house_balance(r)


def test_bad_overrides_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown market 'auction'"):
        make_config(LAB, "auction")
    with pytest.raises(ValueError, match="--houses"):
        make_config(LAB, houses=0)


@settings(max_examples=8, deadline=None)
@given(
    houses=st.integers(2, 15),
    consumers=st.floats(0.05, 0.95),
    market=st.sampled_from(sorted(MARKETS)),
    forecast=st.sampled_from(["perfect", "persistence"]),
    seed=st.integers(0, 1000),
)
def test_conservation_holds_for_random_communities(
    houses: int, consumers: float, market: str, forecast: str, seed: int
) -> None:
    groups = (
        LAB.households[0].model_copy(update={"share": 1.0 - consumers}),
        LAB.households[2].model_copy(update={"share": consumers}),
    )
    sc = LAB.model_copy(
        update={
            "households": groups,
            "strategy": LAB.strategy.model_copy(update={"forecast": forecast}),
        }
    )
    r = simulate(make_config(sc, market, houses=houses, days=1, seed=seed))
    _check_house_balance(r)
    h = r.ledger.house
    assert (h["p2p_bought_wh"] <= h["contracted_bought_wh"]).all()


def test_thesis_windows_trade_only_in_the_delivery_windows() -> None:
    lab = load_scenario("thesis-lab-5")  # Valparaíso, UTC-3
    windows = lab.model_copy(
        update={"calendar": lab.calendar.model_copy(update={"mode": "thesis-windows"})}
    )
    w = simulate(make_config(windows, "uniform", days=2, seed=1))
    c = simulate(make_config(lab, "uniform", days=2, seed=1))
    traded = np.flatnonzero(w.ledger.trimmed_series()["p2p_wh"] > 0) % 96
    # 13:00-14:00 and 16:30-17:30 local = 16:00-17:00 and 19:30-20:30 UTC
    allowed = {*range(64, 68), *range(78, 82)}
    assert traded.size > 0 and set(traded.tolist()) <= allowed
    assert w.ledger.house["p2p_bought_wh"].sum() < c.ledger.house["p2p_bought_wh"].sum()
    _check_house_balance(w)


def test_default_forecast_is_noisy_and_designs_then_differ() -> None:
    from gridpeer.sim.scenario import Strategy

    assert Strategy().forecast == "noisy" and Strategy().forecast_error == 0.3
    assert LAB.strategy.forecast == "noisy"
    delivered = {}
    for market in ("order-book", "uniform", "mid-market"):
        r = simulate(make_config(LAB, market, houses=20, days=1, seed=4))
        h = r.ledger.house
        _check_house_balance(r)
        assert (h["p2p_bought_wh"] <= h["contracted_bought_wh"]).all()
        delivered[market] = int(h["p2p_bought_wh"].sum())
    assert len(set(delivered.values())) > 1, delivered
    # a perfect forecast trades the same volume in every design (the old default)
    perfect = LAB.model_copy(
        update={"strategy": LAB.strategy.model_copy(update={"forecast": "perfect"})}
    )
    volumes = {
        int(
            simulate(make_config(perfect, m, houses=20, days=1, seed=4))
            .ledger.house["p2p_bought_wh"]
            .sum()
        )
        for m in ("order-book", "uniform", "mid-market")
    }
    assert len(volumes) == 1


def test_noisy_forecast_error_is_seeded_per_day_not_per_design() -> None:
    cfg_a = make_config(LAB, "uniform", houses=10, days=1, seed=9)
    cfg_b = make_config(LAB, "sdr", houses=10, days=1, seed=9)
    sa, sb = Simulation(cfg_a), Simulation(cfg_b)
    day = LAB.calendar.start
    ta, tb = sa.gen.day(day, 0), sb.gen.day(day, 0)
    fa, fb = sa._noisy_day(ta, 0), sb._noisy_day(tb, 0)
    np.testing.assert_array_equal(fa[0], fb[0])
    np.testing.assert_array_equal(fa[1], fb[1])
    assert (fa[0][ta.pv_wh == 0] == 0).all()  # no PV forecast at night
    assert not np.array_equal(fa[1], ta.load_wh)  # not perfect
