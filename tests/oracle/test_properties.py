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


class DyingConnection:
    """A SQLite connection that fails (like a lost server) after ``budget`` more uses."""

    def __init__(self, conn: sqlite3.Connection, world: World) -> None:
        self.conn, self.world = conn, world

    def _use(self) -> None:
        if self.world.db_budget is not None:
            if self.world.db_budget <= 0:
                raise sqlite3.OperationalError("disk I/O error (test outage)")
            self.world.db_budget -= 1

    def execute(self, *args: Any) -> Any:
        self._use()
        return self.conn.execute(*args)

    def cursor(self) -> Any:
        self._use()
        return self.conn.cursor()

    def close(self) -> None:
        self.conn.close()


@dataclass
class World:
    url: str
    path: Path
    chain: FakeChain = field(default_factory=FakeChain)
    link: FlakyLink = field(default_factory=FlakyLink)
    clock: ManualClock = field(default_factory=lambda: ManualClock(start=T0))
    db_budget: int | None = None  # uses left before the database connection dies
    db_refusals: int = 0  # connection attempts still refused after it died

    def oracle(self) -> Oracle:
        fast = Backoff(first_s=1e-9, max_s=1e-9)
        state = OracleState(self.url, backoff=fast)
        real = state._connect

        def connect() -> Any:
            if self.db_refusals > 0:
                self.db_refusals -= 1
                raise sqlite3.OperationalError("unable to open database file (test outage)")
            if self.db_budget is not None and self.db_budget <= 0:
                self.db_budget = None  # the server is back
            return DyingConnection(real(), self)

        state._connect = connect  # type: ignore[method-assign]
        state.close()
        o = Oracle(self.chain, state, "127.0.0.1", 1, self.clock, CFG)
        o.link = self.link  # type: ignore[assignment]
        o._backoff = Backoff(first_s=1e-9, max_s=1e-9)
        return o

    def rows(self) -> dict[int, tuple[str, int | None, int | None, int | None]]:
        """Trades as stored, read on a connection of its own (state, seller, buyer, Wh)."""
        with sqlite3.connect(self.path) as c:
            q = "SELECT trade_id, state, seller_out_wh, buyer_in_wh, delivered_wh "
            q += "FROM oracle_trades"
            return {int(r[0]): (r[1], r[2], r[3], r[4]) for r in c.execute(q)}


other_ops = st.lists(
    st.one_of(
        # a tick at a model minute, during which the database may die after a few uses
        st.tuples(st.just("tick"), st.integers(0, 30), st.none() | st.sampled_from(range(30))),
        st.tuples(st.just("crash"), st.just(0)),
        st.tuples(st.just("broker"), st.booleans()),
        st.tuples(st.just("db"), st.integers(0, 3)),
        st.tuples(st.just("node"), st.booleans()),
        st.tuples(st.just("resolve"), st.integers(0, 2), st.integers(0, 300)),
    ),
    max_size=30,
)
# one trade's report from one side: its value (Wh, or "d": d Wh off the contract, i.e.
# meters that agree) and where it falls among the other steps; None = the side is silent
report = st.none() | st.tuples(
    st.integers(0, 300) | st.integers(-8, 8).map(str), st.integers(0, 30)
)
trades = st.lists(st.tuples(st.integers(1, 200), report, report), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(trades, other_ops)
def test_each_trade_settles_once_by_the_rule(
    plan: list[tuple[int, Any, Any]], others: list[tuple[Any, ...]]
) -> None:
    amounts = [p[0] for p in plan]
    steps = list(others)
    reports = [
        (pos, tid, seller, value)
        for tid, (wh, *sides) in enumerate(plan)
        for seller, side in zip((True, False), sides, strict=True)
        if side is not None
        for value, pos in [side]
    ]
    for pos, tid, seller, value in sorted(reports, key=lambda r: -r[0]):
        wh = value if isinstance(value, int) else max(0, amounts[tid] + int(value))
        steps.insert(min(pos, len(steps)), ("result", tid, seller, wh))
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
                if step[2] is not None:
                    w.db_budget = step[2]
                o.run_once()
            elif step[0] == "result":
                tid, seller, wh = step[1], step[2], step[3]
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
                w.chain.down, w.db_budget, w.db_refusals = False, None, 0
                o = w.oracle()
                for r in pending:
                    o._results.put(r)
            elif step[0] == "broker":
                w.link.up = step[1]
            elif step[0] == "db":  # the database is down: refuses a few connections
                w.db_budget, w.db_refusals = 0, step[1]
                o.state.close()
            elif step[0] == "node":
                w.chain.down = step[1]
            else:
                tid = step[1] % len(amounts)
                if w.chain.is_disputed(tid) if not w.chain.down else False:
                    w.chain.resolve(tid, min(step[2], amounts[tid]))
            observe()
        w.link.up, w.chain.down, w.db_budget, w.db_refusals = True, False, None, 0
        w.clock.t = END + timedelta(hours=1)  # long after every window and deadline
        for _ in range(3):
            assert o.run_once()
            observe()
        rows = w.rows()
        for tid, contracted in enumerate(amounts):
            state, s, b, _ = rows[tid]
            # nothing lost: every report that reached the oracle is stored (first one wins),
            # unless it came after the trade was decided (then it is cleared, not stored)
            for got, want in ((s, first.get((tid, True))), (b, first.get((tid, False)))):
                assert got == want or (got is None and tid in decided), (tid, got, want)
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
