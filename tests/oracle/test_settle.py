"""Settlement decisions of the oracle (no broker: the link is never started)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridpeer.core.clock import Clock
from gridpeer.oracle.service import Oracle, OracleConfig
from gridpeer.oracle.state import OracleState, TradeState
from gridpeer.telemetry.delivery import command_topic
from tests.oracle.fakechain import FakeChain

T0 = datetime(2026, 6, 1, 13, tzinfo=UTC)


class OutsideWindow(Exception):
    pass


class FlakyChain(FakeChain):
    def __init__(self, failures: list[Exception]) -> None:
        super().__init__()
        self.failures = failures

    def confirm_delivery(self, trade_id: int, delivered_wh: int) -> str:
        if self.failures:
            raise self.failures.pop(0)
        return super().confirm_delivery(trade_id, delivered_wh)


def make(tmp: Path, chain: FakeChain, now: datetime) -> Oracle:
    clock = Clock(start=now, speed=1e-9)  # frozen model time
    cfg = OracleConfig(community="c", retry_s=0.0, resend_s=0.0, result_grace_s=60)
    o = Oracle(chain, OracleState(f"sqlite:///{tmp}/o.db"), "127.0.0.1", 1, clock, cfg)
    chain.mine([(1, "h1", "h2", 100, T0, T0 + timedelta(minutes=10))])
    o.follow()
    o.state.set_state(1, TradeState.COMMANDED)
    return o


def test_rule_applied_and_transient_failure_retried_once_confirmed(tmp_path: Path) -> None:
    chain = FlakyChain([RuntimeError("node busy")])
    o = make(tmp_path, chain, T0 + timedelta(minutes=11))
    o.state.record_result(1, True, 73)  # agrees with 70 within 5 Wh: the lower counts
    o.state.record_result(1, False, 70)
    assert o.settle(o.clock.now()) == 0
    t = o.state.trade(1)
    assert t is not None and t.state is TradeState.CONFIRMING and t.delivered_wh == 70
    assert o.settle(o.clock.now()) == 1
    assert chain.settled == {1: 70}
    assert o.state.trade(1).state is TradeState.CONFIRMED  # type: ignore[union-attr]
    assert o.settle(o.clock.now()) == 0 and chain.confirm_calls == 1  # never sent again


def test_too_late_or_reclaimed_trades_expire(tmp_path: Path) -> None:
    chain = FlakyChain([OutsideWindow("closes at ...")])
    o = make(tmp_path, chain, T0 + timedelta(minutes=30))
    o.state.record_result(1, True, 80)
    o.state.record_result(1, False, 80)
    o.settle(o.clock.now())
    assert o.state.trade(1).state is TradeState.EXPIRED  # type: ignore[union-attr]
    assert chain.settled == {}


def test_confirmation_sent_before_a_crash_is_not_repeated(tmp_path: Path) -> None:
    chain = FakeChain()
    o = make(tmp_path, chain, T0 + timedelta(minutes=11))
    o.state.set_state(1, TradeState.CONFIRMING, delivered_wh=50)
    chain.settled[1] = 50  # the tx went through, then the oracle died
    o.settle(o.clock.now())
    assert o.state.trade(1).state is TradeState.CONFIRMED  # type: ignore[union-attr]
    assert chain.confirm_calls == 0


def test_missing_buyer_result_waits_then_the_sellers_meter_counts(tmp_path: Path) -> None:
    chain = FakeChain()
    o = make(tmp_path, chain, T0 + timedelta(minutes=12))  # deadline: window end + 60 s
    o.state.record_result(1, True, 80)
    assert o.settle(T0 + timedelta(minutes=10, seconds=59)) == 0  # before: wait
    assert o.state.trade(1).state is TradeState.COMMANDED  # type: ignore[union-attr]
    assert o.settle(o.clock.now()) == 1
    t = o.state.trade(1)
    assert t is not None and t.state is TradeState.CONFIRMED and t.delivered_wh == 80
    assert chain.settled == {1: 80} and chain.confirm_calls == 1


def test_disagreeing_meters_open_a_dispute_once(tmp_path: Path) -> None:
    chain = FakeChain()
    o = make(tmp_path, chain, T0 + timedelta(minutes=11))
    o.state.record_result(1, True, 80)
    o.state.record_result(1, False, 0)  # a buyer claiming nothing arrived
    assert o.settle(o.clock.now()) == 1
    assert o.state.trade(1).state is TradeState.DISPUTED  # type: ignore[union-attr]
    assert chain.disputed == {1: (80, 0)} and chain.settled == {}
    assert o.settle(o.clock.now()) == 0 and chain.dispute_calls == 1
    chain.resolve(1, 80)
    o.settle(o.clock.now())
    assert o.state.trade(1).state is TradeState.RESOLVED  # type: ignore[union-attr]


def test_trade_with_an_unknown_house_expires_instead_of_blocking(tmp_path: Path) -> None:
    chain = FakeChain()
    o = make(tmp_path, chain, T0 - timedelta(minutes=1))
    chain.mine([(2, "member:0xABC", "h2", 10, T0, T0 + timedelta(minutes=10))])
    o.follow()
    o.command(o.clock.now())  # must not raise
    assert o.state.trade(2).state is TradeState.EXPIRED  # type: ignore[union-attr]


def test_a_trade_made_with_a_shorter_grace_is_decided_earlier(tmp_path: Path) -> None:
    from gridpeer.oracle.ports import BlockRef, TradeEvent

    chain = FakeChain()
    o = make(tmp_path, chain, T0 + timedelta(minutes=10, seconds=40))
    end = T0 + timedelta(minutes=10)
    short = TradeEvent(BlockRef(9, "0xb9"), "0xt2", 0, 2, "h1", "h2", 50, 10**15, T0, end, 150)
    o.state.apply_range(BlockRef(9, "0xb9"), [short])
    o.state.set_state(2, TradeState.COMMANDED)
    for tid in (1, 2):
        o.state.record_result(tid, True, 40)
    # trade 1 (the contract's 3600 s grace) waits 60 s; trade 2 (150 s grace, 120 s
    # margin) is decided 30 s after its window so it settles before its reclaim
    assert o.deadline(o.state.trade(2)) == end + timedelta(seconds=30)  # type: ignore[arg-type]
    assert o.settle(o.clock.now()) == 1
    assert chain.settled == {2: 40}
    assert o.state.trade(1).state is TradeState.COMMANDED  # type: ignore[union-attr]


def test_a_community_meter_settles_a_dispute(tmp_path: Path) -> None:
    chain = FakeChain()
    o = make(tmp_path, chain, T0 + timedelta(minutes=11))
    with pytest.raises(ValueError, match="not disputed"):
        o.settle_dispute(1, 50, "community meter")
    o.state.record_result(1, True, 80)
    o.state.record_result(1, False, 20)
    o.settle(o.clock.now())
    with pytest.raises(ValueError, match=r"0\.\.100"):
        o.settle_dispute(1, 101, "community meter")
    o.settle_dispute(1, 55, "community meter")
    o.settle(o.clock.now())
    t = o.state.trade(1)
    assert t is not None and t.state is TradeState.CONFIRMED and t.delivered_wh == 55
    assert chain.settled == {1: 55} and chain.disputed == {1: (80, 20)}
    assert t.reason == "dispute settled by community meter (55 Wh)"


class RecordingLink:
    """The oracle's MQTT link, recording each batch it is asked to publish."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, bytes | str, bool]]] = []

    def publish_many(
        self, messages: list[tuple[str, bytes | str, bool]], timeout: float
    ) -> list[bool]:
        self.batches.append(list(messages))
        return [True] * len(messages)


def thirty_commanded(tmp_path: Path, now: datetime) -> tuple[Oracle, RecordingLink]:
    """An oracle at ``now`` with 30 commanded trades of one 10-minute window from T0, all
    silent but trade 2's seller, publishing into a :class:`RecordingLink`."""
    chain = FakeChain()
    o = make(tmp_path, chain, now)
    chain.mine([(k, f"s{k}", f"b{k}", 50, T0, T0 + timedelta(minutes=10)) for k in range(2, 31)])
    o.follow()
    o.state.set_states(list(range(2, 31)), TradeState.COMMANDED)
    o.state.record_result(2, True, 10)  # trade 2's seller has reported
    link = RecordingLink()
    o.link = link  # type: ignore[assignment]
    return o, link


def assert_one_batch_of_the_silent_sides(link: RecordingLink) -> None:
    assert len(link.batches) == 1
    topics = [t for t, _, _ in link.batches[0]]
    assert len(topics) == 2 * 30 - 1  # both sides of 30 trades, less trade 2's seller
    assert command_topic("c", "s2") not in topics and command_topic("c", "b2") in topics


def test_repeated_commands_of_a_tick_go_out_together(tmp_path: Path) -> None:
    """During their window, every trade a side has not reported for gets its command
    again, in one batch (one wait for the broker), only for the sides still silent."""
    o, link = thirty_commanded(tmp_path, T0 + timedelta(minutes=5))  # inside the window
    assert o.resend(o.clock.now()) == 30
    assert_one_batch_of_the_silent_sides(link)
    assert o.resend(o.clock.now()) == 30  # resend_s = 0: again next tick, still one batch
    assert len(link.batches) == 2


def test_a_tick_repeats_at_most_its_cap_of_commands_longest_waiting_first(
    tmp_path: Path,
) -> None:
    """150 silent trades in their window: a tick repeats 200 commands (100 trades), the
    next one starts with the 50 left out, so every trade is repeated within two ticks."""
    from gridpeer.oracle.service import RESEND_MAX_MESSAGES

    chain = FakeChain()
    o = make(tmp_path, chain, T0 + timedelta(minutes=5))
    chain.mine([(k, f"s{k}", f"b{k}", 50, T0, T0 + timedelta(minutes=10)) for k in range(2, 151)])
    o.follow()
    o.state.set_states(list(range(1, 151)), TradeState.COMMANDED)
    link = RecordingLink()
    o.link = link  # type: ignore[assignment]

    assert o.resend(o.clock.now()) == RESEND_MAX_MESSAGES // 2 == 100
    assert o.resend(o.clock.now()) == 100
    first, second = ({t for t, _, _ in batch} for batch in link.batches)
    assert len(link.batches[0]) == len(link.batches[1]) == RESEND_MAX_MESSAGES
    everyone = {command_topic("c", h) for k in range(2, 151) for h in (f"s{k}", f"b{k}")}
    left_out = everyone - first
    assert len(left_out) == 100 and left_out <= second  # the 50 left out went first


def test_asks_after_the_window_go_out_together_once_per_round(tmp_path: Path) -> None:
    """30 trades whose window is over with a side silent: one batch of asks (only the
    silent sides), and no second ask in the same round."""
    o, link = thirty_commanded(tmp_path, T0 + timedelta(minutes=10, seconds=59))  # after
    assert o.ask_again(o.clock.now()) == 30
    assert_one_batch_of_the_silent_sides(link)
    assert o.ask_again(o.clock.now()) == 0  # this round is done
    assert len(link.batches) == 1
