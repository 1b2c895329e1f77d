"""Property: whatever the order of results, duplicates, broker outages and oracle crashes
(restarts from the stored state), every trade ends confirmed exactly once with
min(contracted, first seller report, first buyer report), or expired when a side never
reported. The broker is replaced by a link double whose publishes fail at random; the
real-broker paths are covered by test_service.py and tests/e2e."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.core.clock import Clock
from gridpeer.oracle.service import Oracle, OracleConfig
from gridpeer.oracle.state import OracleState, TradeState
from gridpeer.telemetry.delivery import DeliveryResult, Direction
from tests.oracle.fakechain import FakeChain

T0 = datetime(2026, 6, 1, 13, tzinfo=UTC)
END = T0 + timedelta(minutes=10)


class FlakyLink:
    def __init__(self) -> None:
        self.up = True
        self.sent: list[str] = []

    def publish(
        self, topic: str, payload: bytes | str, retain: bool = False, timeout: float = 5.0
    ) -> bool:
        if self.up:
            self.sent.append(topic)
        return self.up


def new_oracle(chain: FakeChain, url: str, link: FlakyLink) -> Oracle:
    clock = Clock(start=T0, speed=1e-9)
    cfg = OracleConfig(community="c", lead_s=600.0, result_grace_s=60.0, retry_s=0.0)
    o = Oracle(chain, OracleState(url), "127.0.0.1", 1, clock, cfg)
    o.link = link  # type: ignore[assignment]
    return o


ops = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.integers(0, 20)),
        st.tuples(st.just("result"), st.integers(0, 4), st.booleans(), st.integers(0, 300)),
        st.tuples(st.just("crash"), st.just(0)),
        st.tuples(st.just("broker"), st.booleans()),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=5), ops)
def test_each_trade_settles_once_with_the_rule(amounts: list[int], steps: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{Path(d)}/o.db"
        chain, link = FakeChain(), FlakyLink()
        chain.mine([(i, "s", "b", wh, T0, END) for i, wh in enumerate(amounts)])
        o = new_oracle(chain, url, link)
        first: dict[tuple[int, bool], int] = {}
        minute = 0
        for step in steps:
            if step[0] == "tick":
                minute = max(minute, step[1])
                now = T0 + timedelta(minutes=minute)
                o.follow()
                o.command(now)
                o.resend(now)
                o.collect()
                o.settle(now)
            elif step[0] == "result":
                tid, seller, wh = step[1] % len(amounts), step[2], step[3]
                if o.state.trade(tid) is None:
                    continue
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
            elif step[0] == "crash":  # the broker redelivers what was not yet handled
                pending = []
                while not o._results.empty():
                    pending.append(o._results.get())
                o.state.close()
                o = new_oracle(chain, url, link)
                for r in pending:
                    o._results.put(r)
            else:
                link.up = step[1]
        link.up = True
        for _ in range(2):  # long after every window and grace
            now = END + timedelta(hours=1)
            o.follow()
            o.command(now)
            o.collect()
            o.settle(now)
        for tid, wh in enumerate(amounts):
            t = o.state.trade(tid)
            assert t is not None
            stored = (t.seller_out_wh, t.buyer_in_wh)
            if tid in chain.settled:
                assert t.state is TradeState.CONFIRMED
                assert None not in stored
                assert stored == (first[(tid, True)], first[(tid, False)])  # first report wins
                assert chain.settled[tid] == min(wh, *stored) <= wh  # type: ignore[type-var]
            else:  # a side was missing at expiry (a late report changes nothing)
                assert t.state is TradeState.EXPIRED
        assert chain.confirm_calls == len(chain.settled)  # never confirmed twice
