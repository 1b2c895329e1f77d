"""Grid-aware clearing and network fees in the simulator, checked by AC power flows."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pandapower")

from gridpeer.sim.engine import make_config, simulate
from gridpeer.sim.feeder import build_feeder
from gridpeer.sim.grid_market import GridMarket
from gridpeer.sim.kpis import Kpis
from gridpeer.sim.market_adapter import Trades
from gridpeer.sim.scenario import Feeder, load_scenario

BASE = load_scenario("village-100")
# a weak overhead feeder with tight limits, so that the midday PV export violates them
TIGHT = {"network": "kerber-landnetz-freileitung-1", "voltage_band": 0.03, "max_loading_pct": 50}


def _run(feeder: Feeder, market: str = "uniform", houses: int = 60):  # type: ignore[no-untyped-def]
    sc = BASE.model_copy(update={"feeder": feeder})
    return simulate(make_config(sc, market, houses=houses, days=1, seed=1))


def test_infinite_limits_equal_todays_clearing_exactly() -> None:
    plain = _run(Feeder(network=TIGHT["network"]), houses=40)  # type: ignore[arg-type]
    aware = _run(
        Feeder(
            network=TIGHT["network"],  # type: ignore[arg-type]
            voltage_band=0.999,
            max_loading_pct=1e12,
            grid_aware=True,
        ),
        houses=40,
    )
    assert aware.grid_market is not None and aware.grid_market.curtailed_wh == 0
    for key, arr in plain.ledger.house.items():
        np.testing.assert_array_equal(aware.ledger.house[key], arr, err_msg=key)
    assert plain.ledger.house["p2p_sold_wh"].sum() > 0


@pytest.mark.parametrize("market", ["uniform", "mid-market"])
def test_grid_aware_leaves_no_market_caused_violation(
    market: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every violation of every slot is already in the AC power flow of the non-market
    injections (each house's injection minus its delivered P2P), re-solved here on a
    fresh copy of the feeder."""
    seen: list[tuple[np.ndarray, Trades, bool]] = []
    check = GridMarket.check

    def spy(self: GridMarket, residual: np.ndarray, delivered: Trades) -> bool:
        cancel = check(self, residual, delivered)
        seen.append((residual.copy(), delivered, cancel))
        return cancel

    monkeypatch.setattr(GridMarket, "check", spy)
    spec = Feeder(grid_aware=True, **TIGHT)  # type: ignore[arg-type]
    r = _run(spec, market)
    gm = r.grid_market
    assert gm is not None and r.feeder is not None
    assert r.feeder.summary()["violation_slots"] > 0  # the test has teeth
    assert gm.curtailed_wh > 0
    assert r.ledger.house["p2p_sold_wh"].sum() > 0  # not everything was curtailed
    fresh = build_feeder(spec, 60, 1, 1, BASE.base_dir)
    checked = 0
    for residual, delivered, cancel in seen:
        if cancel:
            continue
        p = fresh.solve(residual)
        bad = p.violations(fresh.limits)
        if not bad.any() or len(delivered) == 0:
            continue
        n = residual.size
        m = np.bincount(delivered.seller, delivered.wh, n) - np.bincount(
            delivered.buyer, delivered.wh, n
        )
        nm = fresh.solve(residual - m.astype(np.int64))
        assert not (bad & ~nm.violations(fresh.limits)).any()
        checked += 1
    assert checked > 0
    assert gm.market_caused_slots == 0


def test_network_fees_go_to_the_operator_and_into_the_bills() -> None:
    free = _run(Feeder(network="kerber-dorfnetz"), houses=40)
    paid = _run(Feeder(network="kerber-dorfnetz", network_fee=20.0), houses=40)
    gm = paid.grid_market
    assert gm is not None
    h, h0 = paid.ledger.house, free.ledger.house
    fees = h["network_fee_wei"]
    assert int(fees.sum()) == gm.operator_wei > 0
    assert (h0["network_fee_wei"] == 0).all()
    # fees don't change energy or trades; buyers pay them on top: paid == received + fees
    np.testing.assert_array_equal(h["p2p_bought_wh"], h0["p2p_bought_wh"])
    assert int(h["p2p_paid_wei"].sum() + fees.sum()) == int(h["p2p_received_wei"].sum()) + int(
        gm.operator_wei
    )
    k, k0 = Kpis(paid), Kpis(free)
    np.testing.assert_array_equal(k.bill_wei - k0.bill_wei, fees)
    assert gm.summary(paid.wei_per_unit)["network_fees"] == gm.operator_wei / paid.wei_per_unit
    rows = k.house_rows()
    assert sum(float(r["network_fee"]) for r in rows) == pytest.approx(  # type: ignore[arg-type]
        gm.operator_wei / paid.wei_per_unit
    )
    # the distance is the resistance of the path: 0 between houses on one bus
    dist = paid.feeder.path_resistance()  # type: ignore[union-attr]
    same = paid.feeder.bus_of_house[:, None] == paid.feeder.bus_of_house[None, :]  # type: ignore[union-attr]
    assert (dist[same] == 0).all() and (dist[~same] > 0).all()
    np.testing.assert_allclose(dist, dist.T)
