"""``--settlement revm``: every trade on the real contract bytecode; chain == engine."""

from __future__ import annotations

import pytest

from gridpeer.sim.engine import Simulation, make_config
from gridpeer.sim.scenario import load_scenario
from gridpeer.sim.settle_chain import ChainSettler, SettlementMismatch

LAB = load_scenario("thesis-lab-5")


@pytest.mark.parametrize(
    ("market", "forecast"),
    [
        ("uniform", "perfect"),
        ("pay-as-bid", "persistence"),
        ("cda", "clear-sky"),
        ("sdr", "perfect"),
        ("bill-sharing", "perfect"),
        ("order-book", "persistence"),
    ],
)
def test_revm_balances_equal_engine_accounting(market: str, forecast: str) -> None:
    sc = LAB.model_copy(update={"strategy": LAB.strategy.model_copy(update={"forecast": forecast})})
    cfg = make_config(sc, market, houses=6, days=2, seed=7)
    settler = ChainSettler("revm", cfg)
    result = Simulation(cfg, settle=settler.on_slot).run()
    settler.finish(result)  # raises SettlementMismatch if any house differs
    h = result.ledger.house
    engine = (h["p2p_received_wei"] - h["p2p_paid_wei"]).tolist()
    assert settler.chain_net_wei() == engine
    assert settler.market.balance() == sum(settler.market.credit_of_index(i) for i in settler.index)
    if market == "bill-sharing":
        assert settler.report.trades == 0 and settler.report.skipped_zero_price > 0
    else:
        assert settler.report.trades > 0
        assert any(v != 0 for v in engine)
    assert not settler.pending
    assert settler.report.path == ("offer/buy" if market == "order-book" else "batch (EIP-712)")
    if settler.report.trades:
        assert settler.report.gas_used > 0
        assert "chain_equals_engine,true" in settler.summary_csv()


def test_mismatch_is_detected() -> None:
    cfg = make_config(LAB, "uniform", houses=5, days=1, seed=1)
    settler = ChainSettler("revm", cfg)
    result = Simulation(cfg, settle=settler.on_slot).run()
    seller = int(result.ledger.house["p2p_received_wei"].argmax())
    result.ledger.house["p2p_received_wei"][seller] += 1
    with pytest.raises(SettlementMismatch, match="chain != engine"):
        settler.finish(result)
