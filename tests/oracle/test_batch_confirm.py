"""The oracle confirms every trade ready in a tick with one ``confirmBatch`` transaction
(the real contract on the embedded chain): many trades in one tx, a trade the contract
skips does not block the others, the batch's tx hash is stored before it is sent, and a
restart between the mined batch and its recording confirms nothing twice."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

from gridpeer.chain import Match, OrderTerms, Schedule, batch_trade_id
from gridpeer.chain.events import DeliveryConfirmed
from gridpeer.chain.open import Chain, open_chain
from gridpeer.oracle.chain_adapter import MarketChainView
from gridpeer.oracle.ports import BatchResult
from gridpeer.oracle.recovery import Backoff
from gridpeer.oracle.service import Oracle
from gridpeer.oracle.settings import OracleSettings
from gridpeer.oracle.state import OracleState, TradeState
from gridpeer.telemetry.delivery import DeliveryResult, Direction
from tests.oracle.test_properties import FlakyLink, ManualClock

PRICE = 10**15  # wei/kWh


class Rig:
    """A market on the embedded chain with ``n`` batch trades h1 → h2 of 1..n Wh in one
    window, and an oracle (link double: the broker always acknowledges)."""

    def __init__(self, tmp: Path, n: int, batch_max: int = 100) -> None:
        self.chain: Chain = open_chain("embedded")
        self.market = m = self.chain.deploy_market(grace_s=3600)
        m.set_schedule(self.chain.admin, Schedule("open"))
        s, b = self.chain.houses(2, m)
        self.start = (m.now() // 3600 + 2) * 3600
        self.end = self.start + 900
        m.deposit(b, 10**18)
        exp = self.start
        total = n * (n + 1) // 2
        orders = [
            m.sign_order(
                s, OrderTerms(s.address, True, total, PRICE, self.start, self.end, 1, exp)
            ),
            m.sign_order(
                b, OrderTerms(b.address, False, total, PRICE, self.start, self.end, 1, exp)
            ),
        ]
        batch = m.settle_batch(
            self.chain.coordinator, orders, [Match(0, 1, i + 1, PRICE) for i in range(n)]
        )
        self.ids = [batch_trade_id(batch, i) for i in range(n)]
        self.view = MarketChainView(m, self.chain.oracle, {s.address: "h1", b.address: "h2"})
        self.url = f"sqlite:///{tmp}/o.db"
        self.cfg = OracleSettings(
            community="c",
            lead_s=600.0,
            result_grace_s=300.0,
            retry_s=0.0,
            confirm_batch_max=batch_max,
        )
        self.clock = ManualClock(start=self.at(0))
        self.clock.t = self.at(-60)
        self.oracle = self.new_oracle()

    def at(self, offset_s: int) -> datetime:
        return datetime.fromtimestamp(self.start + offset_s, UTC)

    def new_oracle(self) -> Oracle:
        o = Oracle(self.view, OracleState(self.url), "127.0.0.1", 1, self.clock, self.cfg)
        o.link = FlakyLink()  # type: ignore[assignment]
        o._backoff = Backoff(first_s=1e-9, max_s=1e-9)
        return o

    def report_all(self, o: Oracle) -> None:
        """Both meters of every trade report its Wh."""
        for i, tid in enumerate(self.ids):
            for house, d in (("h1", Direction.OUT), ("h2", Direction.IN)):
                o._results.put(
                    DeliveryResult(
                        trade_id=tid,
                        house=house,
                        direction=d,
                        measured_wh=i + 1,
                        target_wh=i + 1,
                        closed_at=None,
                        opened_at=self.at(0),
                        reason="target",
                    )
                )

    def after_window(self) -> None:
        self.market.set_time(self.end + 1)
        self.clock.t = self.at(900 + 1)

    def confirmations(self) -> list[DeliveryConfirmed]:
        return [e for e in self.market.events(0) if isinstance(e, DeliveryConfirmed)]


def test_every_trade_ready_in_a_tick_is_confirmed_in_one_transaction(tmp_path: Path) -> None:
    rig = Rig(tmp_path, 150, batch_max=200)
    o = rig.oracle
    assert o.run_once()  # follow + command: all 150 commanded together
    assert o.state.counts() == {TradeState.COMMANDED: 150}
    rig.report_all(o)
    rig.after_window()
    assert o.run_once()
    rows = o.state.trades()
    assert {r.state for r in rows} == {TradeState.CONFIRMED}
    conf = rig.confirmations()
    assert sorted((e.trade_id, e.delivered_wh) for e in conf) == [
        (tid, i + 1) for i, tid in enumerate(rig.ids)
    ]
    assert len({e.meta.tx_hash for e in conf}) == 1  # one transaction
    assert {r.confirm_tx for r in rows} == {"0x" + conf[0].meta.tx_hash.hex()}


def test_batches_are_capped(tmp_path: Path) -> None:
    rig = Rig(tmp_path, 25, batch_max=10)
    o = rig.oracle
    assert o.run_once()
    rig.report_all(o)
    rig.after_window()
    o.collect()
    assert o.settle(o.clock.now()) == 3  # 10 + 10 + 5
    conf = rig.confirmations()
    assert len(conf) == 25 and len({e.meta.tx_hash for e in conf}) == 3


def test_a_trade_the_contract_skips_does_not_block_the_others(tmp_path: Path) -> None:
    rig = Rig(tmp_path, 6)
    o = rig.oracle
    assert o.run_once()
    rig.report_all(o)
    rig.after_window()
    gone = rig.ids[2]  # settled behind the oracle's back before its batch
    rig.market.confirm_delivery(rig.chain.oracle, gone, 1)
    assert o.run_once()
    states = {r.trade_id: r.state for r in o.state.trades()}
    assert states.pop(gone) is TradeState.EXPIRED
    assert set(states.values()) == {TradeState.CONFIRMED}
    conf = rig.confirmations()
    assert sorted(e.trade_id for e in conf) == sorted(rig.ids)  # each exactly once
    assert [e.delivered_wh for e in conf if e.trade_id == gone] == [1]


def test_a_restart_after_the_batch_was_mined_reconciles_from_its_receipt(tmp_path: Path) -> None:
    rig = Rig(tmp_path, 8)
    o = rig.oracle
    assert o.run_once()
    rig.report_all(o)
    rig.after_window()
    real = rig.view.confirm_batch
    sent: list[BatchResult] = []

    def mined_then_crash(*args: object, **kw: object) -> BatchResult:
        sent.append(real(*args, **kw))  # type: ignore[arg-type]
        raise SystemExit("killed before the receipt was recorded")

    gone = rig.ids[3]  # closed behind the oracle's back: the batch skips it
    rig.market.confirm_delivery(rig.chain.oracle, gone, 2)
    rig.view.confirm_batch = mined_then_crash  # type: ignore[method-assign]
    with contextlib.suppress(SystemExit):
        o.run_once()
    rig.view.confirm_batch = real  # type: ignore[method-assign]
    rows = o.state.trades()
    assert {r.state for r in rows} == {TradeState.CONFIRMING}
    assert {r.confirm_tx for r in rows} == {sent[0].tx_hash}  # stored before it was sent
    assert sent[0].skipped == {gone: 1}
    o.state.close()
    asked: list[int] = []
    real_settled = rig.view.is_settled

    def is_settled(trade_id: int) -> bool:
        asked.append(trade_id)
        return real_settled(trade_id)

    rig.view.is_settled = is_settled  # type: ignore[method-assign]
    o2 = rig.new_oracle()  # the restart: the stored state only
    assert o2.run_once()
    states = {r.trade_id: r.state for r in o2.state.trades()}
    assert states.pop(gone) is TradeState.EXPIRED  # the receipt's ConfirmSkipped
    assert set(states.values()) == {TradeState.CONFIRMED}
    assert asked == []  # decided from the batch's receipt, not trade by trade
    conf = rig.confirmations()
    assert sorted(e.trade_id for e in conf) == sorted(rig.ids)  # each exactly once
    assert len({e.meta.tx_hash for e in conf if e.trade_id != gone}) == 1
