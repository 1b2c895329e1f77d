"""Property: with batched confirmation, whatever the crashes (restart from the stored
state), lost receipts (the batch mined, the answer lost), chain-node and database outages
and trades closed behind the oracle's back, every trade ends settled on chain exactly
once, by the oracle's batch or by the outsider, and the oracle's state says which."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.oracle.ports import BatchResult
from gridpeer.oracle.state import TradeState
from gridpeer.telemetry.delivery import DeliveryResult, Direction
from tests.oracle.fakechain import FakeChain
from tests.oracle.test_properties import END, T0, World


class BatchChain(FakeChain):
    """FakeChain with ``confirmBatch``: a settled trade is skipped (reason 1), a batch
    can be mined and its answer lost (``lose_next``), receipts can be looked up."""

    def __init__(self) -> None:
        super().__init__()
        self.settle_count: Counter[int] = Counter()
        self.receipts: dict[str, BatchResult] = {}
        self.lose_next = False
        self.by_outsider: set[int] = set()

    def outsider_settles(self, trade_id: int) -> None:
        if trade_id not in self.settled:
            self.settled[trade_id] = 0
            self.settle_count[trade_id] += 1
            self.by_outsider.add(trade_id)

    def confirm_delivery(self, trade_id: int, delivered_wh: int) -> str:
        tx = super().confirm_delivery(trade_id, delivered_wh)
        self.settle_count[trade_id] += 1
        return tx

    def confirm_batch(
        self, deliveries: Sequence[tuple[int, int]], on_signed: Callable[[str], None]
    ) -> BatchResult:
        self._up()
        tx = f"0xbatch{len(self.receipts)}"
        on_signed(tx)
        confirmed: list[int] = []
        skipped: dict[int, int] = {}
        for tid, wh in deliveries:
            if tid in self.settled:
                skipped.setdefault(tid, 1)
            else:
                self.settled[tid] = wh
                self.settle_count[tid] += 1
                confirmed.append(tid)
        self.receipts[tx] = BatchResult(tx, tuple(confirmed), skipped)
        if self.lose_next:
            self.lose_next = False
            raise ConnectionError("node gone before the receipt")
        return self.receipts[tx]

    def batch_outcome(self, tx_hash: str) -> BatchResult | None:
        self._up()
        return self.receipts.get(tx_hash)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.none() | st.sampled_from(range(25))),
        st.tuples(st.just("crash"), st.none()),
        st.tuples(st.just("lose"), st.none()),
        st.tuples(st.just("node"), st.booleans()),
        st.tuples(st.just("outsider"), st.integers(0, 40)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 40), ops)
def test_each_trade_settles_exactly_once_whatever_the_crashes(
    n: int, steps: list[tuple[str, int | bool | None]]
) -> None:
    with tempfile.TemporaryDirectory() as d:
        chain = BatchChain()
        w = World(f"sqlite:///{Path(d)}/o.db", Path(d) / "o.db", chain=chain)
        chain.mine([(i, "s", "b", 100, T0, END) for i in range(n)])
        o = w.oracle()
        w.clock.t = T0 + timedelta(minutes=1)
        assert o.run_once()  # all commanded
        for i in range(n):
            for seller in (True, False):
                o._results.put(
                    DeliveryResult(
                        trade_id=i,
                        house="s" if seller else "b",
                        direction=Direction.OUT if seller else Direction.IN,
                        measured_wh=90,
                        target_wh=100,
                        closed_at=None,
                        opened_at=END,
                        reason="window_end",
                    )
                )
        w.clock.t = END + timedelta(minutes=1)
        for op, arg in steps:
            if op == "tick":
                w.db_budget = arg if isinstance(arg, int) else None
                o.run_once()
            elif op == "crash":  # restart from the stored state; undelivered results redelivered
                pending = [o._held] if o._held is not None else []
                while not o._results.empty():
                    pending.append(o._results.get())
                o.state.close()
                w.db_budget, chain.down = None, False
                o = w.oracle()
                for r in pending:
                    o._results.put(r)
            elif op == "lose":
                chain.lose_next = True
            elif op == "node":
                chain.down = bool(arg)
            else:
                assert isinstance(arg, int)
                chain.outsider_settles(arg % n)
        w.db_budget, chain.down, chain.lose_next = None, False, False
        for _ in range(3):
            assert o.run_once()
        rows = {r.trade_id: r for r in o.state.trades()}
        assert set(chain.settle_count) == set(range(n))
        assert all(c == 1 for c in chain.settle_count.values()), chain.settle_count
        for i in range(n):
            if i in chain.by_outsider:
                # closed before the oracle's batch reached it: expired (never paid twice);
                # or the oracle's lone confirmDelivery found it settled
                assert rows[i].state in (TradeState.EXPIRED, TradeState.CONFIRMED)
            else:
                assert rows[i].state is TradeState.CONFIRMED
                assert chain.settled[i] == 90
