"""Property: whatever the interleaving of delivery results (duplicates, late, missing),
oracle restarts (from the stored state), broker, database and chain-node outages and the
admin resolving disputes, each trade is settled at most once, never for more than the
contract nor than the seller's meter reported before the decision, by the settlement
rule, and no stored report is lost. The broker is a link double whose publishes fail
at random; the database outage is real (the SQLite connection is dropped and refused);
the real-broker paths are covered by test_service.py and test_rule_e2e.py."""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.core.clock import Clock
from gridpeer.oracle.recovery import Backoff
from gridpeer.oracle.rules import Action, Tolerance
from gridpeer.oracle.rules import settle as rule
from gridpeer.oracle.service import Oracle
from gridpeer.oracle.settings import OracleSettings
from gridpeer.oracle.state import OracleState, TradeState
from gridpeer.telemetry.delivery import DeliveryResult, Direction
from tests.oracle.fakechain import FakeChain

T0 = datetime(2026, 6, 1, 13, tzinfo=UTC)
END = T0 + timedelta(minutes=10)
CFG = OracleSettings(community="c", lead_s=600.0, result_grace_s=300.0, retry_s=0.0)
TOL = Tolerance(CFG.tolerance_pct, CFG.tolerance_wh)


@dataclass
class ManualClock(Clock):
    t: datetime = T0

    def now(self) -> datetime:
        return self.t


class FlakyLink:
    def __init__(self) -> None:
        self.up = True

    def publish(
        self, topic: str, payload: bytes | str, retain: bool = False, timeout: float = 5.0
    ) -> bool:
        return self.up


@dataclass
class World:
    url: str
    path: Path
    chain: FakeChain = field(default_factory=FakeChain)
    link: FlakyLink = field(default_factory=FlakyLink)
    clock: ManualClock = field(default_factory=lambda: ManualClock(start=T0))

    def oracle(self) -> Oracle:
        fast = Backoff(first_s=1e-9, max_s=1e-9)
        o = Oracle(self.chain, OracleState(self.url, backoff=fast), "127.0.0.1", 1, self.clock, CFG)
        o.link = self.link  # type: ignore[assignment]
        o._backoff = Backoff(first_s=1e-9, max_s=1e-9)
        return o

    def rows(self) -> dict[int, tuple[str, int | None, int | None, int | None]]:
        """Trades as stored, read on a connection of its own (state, seller, buyer, Wh)."""
        with sqlite3.connect(self.path) as c:
            q = "SELECT trade_id, state, seller_out_wh, buyer_in_wh, delivered_wh FROM oracle_trades"
            return {int(r[0]): (r[1], r[2], r[3], r[4]) for r in c.execute(q)}


def db_outage(o: Oracle, down: bool) -> None:
    """Drop the oracle's database connection and refuse new ones (or allow them again)."""
    if down:

        def refuse() -> Any:
            raise sqlite3.OperationalError("unable to open database file (test outage)")

        o.state._connect = refuse  # type: ignore[method-assign]
        o.state.close()
    else:
        o.state.__dict__.pop("_connect", None)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.integers(0, 30)),
        st.tuples(st.just("result"), st.integers(0, 4), st.booleans(), st.integers(0, 300)),
        st.tuples(st.just("crash"), st.just(0)),
        st.tuples(st.just("broker"), st.booleans()),
        st.tuples(st.just("db"), st.booleans()),
        st.tuples(st.just("node"), st.booleans()),
        st.tuples(st.just("resolve"), st.integers(0, 4), st.integers(0, 300)),
    ),
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=5), ops)
def test_each_trade_settles_once_by_the_rule(amounts: list[int], steps: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as d:
        w = World(f"sqlite:///{Path(d)}/o.db", Path(d) / "o.db")
        w.chain.mine([(i, "s", "b", wh, T0, END) for i, wh in enumerate(amounts)])
        o = w.oracle()
        first: dict[tuple[int, bool], int] = {}
        decided: dict[int, tuple[int | None, int | None, int | None, str]] = {}
        minute = 0

        def observe() -> None:
            """Remember what the oracle knew when it decided each trade."""
            for tid, (state, s, b, wh) in w.rows().items():
                if tid not in decided and state not in ("seen", "commanded"):
                    decided[tid] = (s, b, wh, state)

        for step in steps:
            if step[0] == "tick":
                minute = max(minute, step[1])
                w.clock.t = T0 + timedelta(minutes=minute)
                o.run_once()
            elif step[0] == "result":
                tid, seller, wh = step[1] % len(amounts), step[2], step[3]
                first.setdefault((tid, seller), wh)
                o._results.put(
                    DeliveryResult(
                        trade_id=tid,
                        house="s" if seller else "b",
                        direction=Direction.OUT if seller else Direction.IN,
                        measured_wh=wh,
                        target_wh=amounts[tid],
                        closed_at=None,
                        opened_at=END,
                        reason="window_end",
                    )
                )
            elif step[0] == "crash":  # the broker redelivers what was not yet stored
                pending = [o._held] if o._held is not None else []
                while not o._results.empty():
                    pending.append(o._results.get())
                o.state.close()
                w.chain.down = False
                o = w.oracle()
                for r in pending:
                    o._results.put(r)
            elif step[0] == "broker":
                w.link.up = step[1]
            elif step[0] == "db":
                db_outage(o, step[1])
            elif step[0] == "node":
                w.chain.down = step[1]
            else:
                tid = step[1] % len(amounts)
                if w.chain.is_disputed(tid) if not w.chain.down else False:
                    w.chain.resolve(tid, min(step[2], amounts[tid]))
            observe()
        w.link.up, w.chain.down = True, False
        db_outage(o, False)
        w.clock.t = END + timedelta(hours=1)  # long after every window and deadline
        for _ in range(3):
            assert o.run_once()
            observe()
        rows = w.rows()
        for tid, contracted in enumerate(amounts):
            state, s, b, _ = rows[tid]
            # nothing lost: every report that reached the oracle is stored (first one wins)
            assert (s, b) == (first.get((tid, True)), first.get((tid, False)))
            ds, db, dwh, _ = decided[tid]
            verdict = rule(contracted, ds, db, deadline_passed=True, tolerance=TOL)
            if verdict.action is Action.DISPUTE:
                assert w.chain.disputed[tid] == (ds, db)
                assert state in ("disputed", "resolved")
                assert (state == "resolved") == (tid in w.chain.settled)
            else:
                assert tid not in w.chain.disputed
                assert state == TradeState.CONFIRMED.value
                assert w.chain.settled[tid] == dwh == verdict.delivered_wh
                assert dwh <= contracted
                if ds is not None:  # never more than the seller's meter reported
                    assert dwh <= ds
        # at most once: every confirm and dispute call succeeded (none hit a settled trade)
        assert w.chain.confirm_calls == len(w.chain.settled) - sum(
            1 for t in w.chain.disputed if t in w.chain.settled
        )
        assert w.chain.dispute_calls == len(w.chain.disputed)
