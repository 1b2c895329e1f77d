"""The oracle survives its database and its chain node going away at any point.

The database dies at *every* possible point of a tick in turn (its connection fails after
N uses, N = 0, 1, 2, …, like a PostgreSQL restart) and the chain node is down for a while;
each time the oracle resumes by itself and the trade is stored, settled and logged once.
The real PostgreSQL restart is in test_postgres_restart.py."""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from gridpeer.oracle.recovery import Backoff
from gridpeer.oracle.state import OracleState, StateUnavailable, TradeState
from gridpeer.telemetry.delivery import DeliveryResult, Direction
from tests.oracle.test_properties import END, T0, World


def result(seller: bool, wh: int) -> DeliveryResult:
    return DeliveryResult(
        trade_id=0,
        house="s" if seller else "b",
        direction=Direction.OUT if seller else Direction.IN,
        measured_wh=wh,
        target_wh=100,
        closed_at=None,
        opened_at=END,
        reason="window_end",
    )


def test_the_database_dying_at_any_point_loses_and_doubles_nothing() -> None:
    points = 0
    while True:
        with tempfile.TemporaryDirectory() as d:
            w = World(f"sqlite:///{d}/o.db", Path(d) / "o.db")
            w.chain.mine([(0, "s", "b", 100, T0, END)])
            o = w.oracle()
            w.clock.t = T0 + timedelta(minutes=1)
            assert o.run_once()  # commanded
            o._results.put(result(True, 98))
            o._results.put(result(False, 97))
            w.clock.t = END + timedelta(minutes=1)
            w.db_budget = points  # the database dies after this many uses
            died = not o.run_once()
            for _ in range(3):
                o.run_once()
            row = w.rows()[0]
            assert row == ("confirmed", 98, 97, 97), f"died after {points} uses"
            assert w.chain.settled == {0: 97} and w.chain.confirm_calls == 1
            o.state.close()
        if not died:  # the tick completed: every point of it was tried
            break
        points += 1
    assert points > 20  # the tick touched the database at many points


def test_the_state_lock_is_released_when_the_database_is_gone(tmp_path: Path) -> None:
    state = OracleState(f"sqlite:///{tmp_path}/s.db", backoff=Backoff(1e-9, 1e-9))

    def refuse() -> object:
        import sqlite3

        raise sqlite3.OperationalError("unable to open database file")

    state._connect = refuse  # type: ignore[method-assign]
    state.close()
    for _ in range(3):  # used to hang forever on the second call (lock never released)
        with pytest.raises(StateUnavailable):
            state.trades()
    assert not state._lock.locked()
    del state._connect  # the database is back: the next call reconnects
    assert state.trades() == [] and state.reconnects == 1


def test_reconnection_attempts_back_off() -> None:
    t = [0.0]
    b = Backoff(first_s=0.1, max_s=0.4, now=lambda: t[0])
    assert b.ready() and [b.failed() for _ in range(4)] == [0.1, 0.2, 0.4, 0.4]
    assert not b.ready()
    t[0] = 0.4
    assert b.ready()
    b.succeeded()
    assert b.failed() == 0.1


def test_an_outage_is_logged_once_however_many_attempts_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with tempfile.TemporaryDirectory() as d:
        w = World(f"sqlite:///{d}/o.db", Path(d) / "o.db")
        w.chain.mine([(0, "s", "b", 100, T0, END)])
        o = w.oracle()
        caplog.set_level(logging.WARNING)
        w.db_budget, w.db_refusals = 0, 50
        o.state.close()
        assert not any(o.run_once() for _ in range(50))
        assert o.run_once()  # the 51st attempt reconnects
        w.chain.down = True
        assert not any(o.run_once() for _ in range(20))
        w.chain.down = False
        assert o.run_once()
        o.state.close()
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("oracle state database unavailable" in m for m in msgs) == 1
    assert sum("oracle state database back after" in m for m in msgs) == 1
    assert sum("chain node unavailable" in m for m in msgs) == 1
    assert sum("chain node back after" in m for m in msgs) == 1
    assert o.db_outage.count == 1 and o.chain_outage.count == 1


def test_a_chain_outage_mid_confirmation_confirms_once() -> None:
    with tempfile.TemporaryDirectory() as d:
        w = World(f"sqlite:///{d}/o.db", Path(d) / "o.db")
        w.chain.mine([(0, "s", "b", 100, T0, END)])
        o = w.oracle()
        w.clock.t = T0 + timedelta(minutes=1)
        assert o.run_once()
        o._results.put(result(True, 60))
        o._results.put(result(False, 60))
        # the node takes the confirmation but dies before answering
        real = w.chain.confirm_delivery

        def confirm_then_die(trade_id: int, wh: int) -> str:
            real(trade_id, wh)
            w.chain.down = True
            raise ConnectionResetError("connection reset by peer")

        w.chain.confirm_delivery = confirm_then_die  # type: ignore[method-assign,assignment]
        w.clock.t = END + timedelta(minutes=1)
        assert not o.run_once()
        assert o.state.trade(0).state is TradeState.CONFIRMING  # type: ignore[union-attr]
        w.chain.confirm_delivery = real  # type: ignore[method-assign]
        w.chain.down = False
        assert o.run_once()
        assert o.state.trade(0).state is TradeState.CONFIRMED  # type: ignore[union-attr]
        assert w.chain.settled == {0: 60} and w.chain.confirm_calls == 1
        o.state.close()
