"""kill -9 and restart of each part under ``gridpeer serve`` during deliveries: PostgreSQL,
Mosquitto, anvil, serve itself and a delivery agent. After each: every reading the broker
acknowledged is stored exactly once, no trade is settled twice, none is left open past its
reclaim time, the contract holds exactly the credits plus the open escrow, and the web app
is ready again within 10 s of the dependency (the issue's bound; serve's own restart is
measured by bench/soak.py, not asserted)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.serve_rig import ServeCommunity, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil, pytest.mark.postgres]
FAULTS = ["postgres", "mosquitto", "anvil", "agent", "serve"]


@pytest.fixture(scope="module")
def com(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeCommunity]:
    """One community for the module: each test adds its trades and its fault."""
    c = ServeCommunity(tmp_path_factory.mktemp("faults"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.mark.parametrize("what", FAULTS)
def test_kill9_and_restart_during_deliveries_loses_and_doubles_nothing(
    com: ServeCommunity, what: str
) -> None:
    a = com.trade("h1", "h2", 10)
    b = com.trade("h2", "h1", 10)
    wait_for(lambda: com.delivering(a) and com.delivering(b), 60, "both deliveries running")
    recovery_s = com.fault(what)
    c = com.trade("h1", "h2", 6)  # a trade made after the fault is delivered too
    com.settle_all()
    assert com.open_trades() == set()
    report = com.report()
    assert report["settled_twice"] == 0 and report["stuck"] == 0
    assert report["money_drift_wei"] == 0
    assert set(com.confirmations()) >= {a, b, c}
    assert report["readings_doubled"] == 0
    # every reading acknowledged so far reaches the store (the sensor keeps publishing, and
    # one acknowledged a moment ago may still be on its way)
    acked = com.sensor.snapshot()
    wait_for(lambda: not acked - set(com.stored_readings()), 20, "acknowledged readings stored")
    if what != "serve":
        assert recovery_s <= 10.0, f"web ready {recovery_s:.1f} s after {what} restarted"


def test_node_back_from_a_state_before_the_oracles_last_transactions(
    com: ServeCommunity,
) -> None:
    """anvil restarts from a state saved before the oracle's confirmations (the node lost
    our last transactions): serve sees the chain went back, sends the confirmations again,
    and nothing is settled twice; the money adds up."""
    a = com.trade("h1", "h2", 8)
    b = com.trade("h2", "h1", 8)
    before = com.anvil.snapshot()  # both trades in it, no confirmation yet
    assert not {a, b} & set(com.confirmations())
    wait_for(lambda: {a, b} <= set(com.confirmations()), 90, "both trades confirmed")
    com.node_back_from(before)
    assert not {a, b} & set(com.confirmations()) and com.open_trades() >= {a, b}
    com.wait_ready(60)
    c = com.trade("h1", "h2", 6)  # the market works on after it
    com.settle_all()
    conf = com.confirmations()
    assert {a, b, c} <= set(conf) and all(len(conf[t]) == 1 for t in (a, b, c))
    report = com.report()
    assert report["settled_twice"] == 0 and report["stuck"] == 0
    assert report["money_drift_wei"] == 0 and com.open_trades() == set()


def test_every_acknowledged_reading_is_stored_once(com: ServeCommunity) -> None:
    """Last: stop the sensor, drain its queue, compare with the database."""
    wait_for(lambda: com.sensor.sent > 0, 10, "readings published")
    com.sensor.stop()
    wait_for(lambda: com.report()["readings_lost"] == 0, 30, "every reading stored")
    report = com.report()
    assert report["readings_doubled"] == 0
    assert len(com.sensor.acked) > 0
