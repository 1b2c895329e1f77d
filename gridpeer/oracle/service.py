"""The oracle: chain events → delivery commands; metered results → on-chain confirmation.

Each :meth:`Oracle.tick`:

1. **follow** – checks the newest remembered block is still canonical (else rewinds to
   the common ancestor), then reads trade events by block range from the last processed
   block up to ``head - confirmations`` (``eth_getLogs``, never a full scan) and stores
   them with the new cursor in one transaction;
2. **command** – for each new trade whose window starts within ``lead_s`` model seconds,
   publishes a :class:`DeliveryCommand` (QoS 1) to the seller (OUT) and the buyer (IN);
   the trade becomes ``commanded`` only once the broker acknowledged both;
3. **results** – stores each house's metered Wh (first report per side wins);
4. **confirm** – when both sides reported, confirms ``min(contracted, seller OUT, buyer
   IN)`` Wh on chain, once: the state is ``confirming`` before the tx is sent and a
   restart first asks the chain whether the trade is already settled;
5. **expire** – a trade without both results by ``window_end + result_grace_s`` is left
   to the buyer's reclaim (``expired``).

All state is in :class:`~gridpeer.oracle.state.OracleState`, so a restart (even after
``kill -9``) resumes exactly where it stopped. Energies Wh, times UTC model time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress, MqttClient
from gridpeer.oracle.follower import common_ancestor, next_range
from gridpeer.oracle.ports import BlockRef, ChainView
from gridpeer.oracle.rules import delivered_wh
from gridpeer.oracle.state import OracleState, TradeRow, TradeState
from gridpeer.telemetry.delivery import (
    DeliveryCommand,
    DeliveryResult,
    Direction,
    command_topic,
    result_filter,
    result_topic,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OracleConfig:
    """Oracle settings.

    Attributes:
        community: community id (topic segment).
        confirmations: blocks mined on top of a block before its events are acted on.
        max_span: most blocks read per ``eth_getLogs``.
        lead_s: model seconds before window start at which commands are sent.
        result_grace_s: model seconds after window end to wait for both results.
        poll_s: wall seconds between ticks.
        start_block: first block to read on a fresh state.
        retry_s: wall seconds before a failed confirmation is retried.
        resend_s: wall seconds between re-sends of an unanswered command in its window.
    """

    community: str = "demo"
    confirmations: int = 0
    max_span: int = 500
    lead_s: float = 300.0
    result_grace_s: float = 600.0
    poll_s: float = 0.02
    start_block: int = 0
    retry_s: float = 1.0
    resend_s: float = 2.0


class Oracle:
    """The oracle process logic (start/stop runs :meth:`tick` in a thread).

    Args:
        chain: the chain (see :class:`~gridpeer.oracle.ports.ChainView`).
        state: persistent oracle state.
        host: MQTT broker host; port: its port.
        credentials: MQTT (user, password) when the broker requires them.
        clock: model time.
        config: settings.
    """

    def __init__(
        self,
        chain: ChainView,
        state: OracleState,
        host: str,
        port: int,
        clock: Clock,
        config: OracleConfig | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.chain, self.state, self.clock = chain, state, clock
        self.config = config or OracleConfig()
        if self.config.start_block > 0 and self.state.last_block() < 0:
            first = self.config.start_block - 1
            self.state.start_after(BlockRef(first, self.chain.block_hash(first) or ""))
        self.rejected = 0
        self._retry_at: dict[int, float] = {}
        self._resend_at: dict[int, float] = {}
        self._results: queue.Queue[DeliveryResult] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.link = MqttClient(
            f"gridpeer-oracle-{self.config.community}",
            BrokerAddress(host, port, *(credentials or (None, None))),
            subscriptions=[result_filter(self.config.community)],
            on_message=self._on_message,
        )

    # -- MQTT -----------------------------------------------------------------------------
    def _on_message(self, topic: str, payload: bytes) -> None:
        if not payload:  # a cleared retained result
            return
        try:
            result = DeliveryResult.model_validate_json(payload)
        except ValidationError as exc:
            self.rejected += 1
            log.warning("rejected delivery result on %s: %s", topic, exc)
            return
        if topic != result_topic(self.config.community, result.house, result.trade_id):
            # the broker's ACL lets a house write only under its own topic: a result must
            # come from the topic of the house and trade it names
            self.rejected += 1
            log.warning(
                "rejected delivery result on %s: names house %s trade %s",
                topic,
                result.house,
                result.trade_id,
            )
            return
        self._results.put(result)

    # -- steps ----------------------------------------------------------------------------
    def follow(self) -> int:
        """Read confirmed new trade events; returns the number of new trades."""
        ancestor = common_ancestor(self.state.history(), self.chain.block_hash)
        if ancestor is not None:
            dropped = self.state.rewind(ancestor)
            log.warning("reorg: rewound to block %s, dropped %s trades", ancestor.number, dropped)
        new = 0
        head = self.chain.head()
        while (
            rng := next_range(
                self.state.last_block(), head, self.config.confirmations, self.config.max_span
            )
        ) is not None:
            a, b = rng
            end_hash = self.chain.block_hash(b)
            events = self.chain.trade_events(a, b)
            if end_hash is None or self.chain.block_hash(b) != end_hash:
                break  # the chain moved under us; retry next tick
            new += self.state.apply_range(BlockRef(b, end_hash), events)
        return new

    def _command(self, trade: TradeRow, sides: tuple[bool, bool] = (True, True)) -> bool:
        ok = True
        for house, direction, send in (
            (trade.seller, Direction.OUT, sides[0]),
            (trade.buyer, Direction.IN, sides[1]),
        ):
            if not send:
                continue
            cmd = DeliveryCommand(
                trade_id=trade.trade_id,
                house=house,
                direction=direction,
                target_wh=trade.energy_wh,
                window_start=trade.window_start,
                window_end=trade.window_end,
            )
            topic = command_topic(self.config.community, house)
            ok = self.link.publish(topic, cmd.model_dump_json(), timeout=2.0) and ok
        return ok

    def command(self, now: datetime) -> int:
        """Publish commands of trades whose window is near; returns how many trades."""
        sent = 0
        lead = timedelta(seconds=self.config.lead_s)
        for trade in self.state.trades(TradeState.SEEN):
            if trade.window_start - lead > now:
                continue
            try:
                ok = self._command(trade)
            except ValueError as exc:  # e.g. a member that is not a known house
                log.error(
                    "trade %s cannot be delivered (%s); buyer may reclaim", trade.trade_id, exc
                )
                self.state.set_state(trade.trade_id, TradeState.EXPIRED)
                continue
            if ok:
                self.state.set_state(trade.trade_id, TradeState.COMMANDED)
                self._resend_at[trade.trade_id] = time.monotonic() + self.config.resend_s
                sent += 1
        return sent

    def resend(self, now: datetime) -> int:
        """During a trade's window, re-publish the command of each side that has not
        reported yet, every ``resend_s`` (an agent that first connected after the
        command, or lost its session, still gets it; agents run it once)."""
        n = 0
        for trade in self.state.trades(TradeState.COMMANDED):
            if not trade.window_start <= now <= trade.window_end:
                continue
            if self._resend_at.get(trade.trade_id, 0.0) > time.monotonic():
                continue
            sides = (trade.seller_out_wh is None, trade.buyer_in_wh is None)
            if any(sides):
                self._command(trade, sides)
                n += 1
            self._resend_at[trade.trade_id] = time.monotonic() + self.config.resend_s
        return n

    def collect(self) -> int:
        """Store the results received since the last call; returns how many."""
        n = 0
        while True:
            try:
                r = self._results.get_nowait()
            except queue.Empty:
                return n
            trade = self.state.trade(r.trade_id)
            if trade is None:
                log.warning("result for unknown trade %s from %s", r.trade_id, r.house)
                continue
            expected = trade.seller if r.direction is Direction.OUT else trade.buyer
            if r.house != expected:
                self.rejected += 1
                log.warning(
                    "result for trade %s from %s, expected %s", r.trade_id, r.house, expected
                )
                continue
            self.state.record_result(r.trade_id, r.direction is Direction.OUT, r.measured_wh)
            n += 1

    def _finish(self, trade: TradeRow, state: TradeState) -> None:
        for house in (trade.seller, trade.buyer):  # clear retained results
            self.link.publish(
                result_topic(self.config.community, house, trade.trade_id),
                b"",
                retain=True,
                timeout=2.0,
            )
        self.state.set_state(trade.trade_id, state)

    def settle(self, now: datetime) -> int:
        """Confirm fully reported trades, expire late ones; returns confirmations sent."""
        sent = 0
        grace = timedelta(seconds=self.config.result_grace_s)
        for trade in self.state.trades(TradeState.CONFIRMING):
            if self._retry_at.get(trade.trade_id, 0.0) > time.monotonic():
                continue
            if self.chain.is_settled(trade.trade_id):
                self._finish(trade, TradeState.CONFIRMED)
            else:
                sent += self._confirm(trade, trade.delivered_wh or 0)
        for trade in self.state.trades(TradeState.COMMANDED):
            if trade.seller_out_wh is not None and trade.buyer_in_wh is not None:
                wh = delivered_wh(trade.energy_wh, trade.seller_out_wh, trade.buyer_in_wh)
                self.state.set_state(trade.trade_id, TradeState.CONFIRMING, delivered_wh=wh)
                sent += self._confirm(trade, wh)
            elif now > trade.window_end + grace:
                log.info("trade %s expired without both results; buyer may reclaim", trade.trade_id)
                self._finish(trade, TradeState.EXPIRED)
        return sent

    def _confirm(self, trade: TradeRow, wh: int) -> int:
        try:
            tx = self.chain.confirm_delivery(trade.trade_id, wh)
        except Exception as exc:
            if self.chain.is_settled(trade.trade_id):
                log.warning("trade %s already closed on chain (%s)", trade.trade_id, exc)
                self._finish(trade, TradeState.EXPIRED)
            elif type(exc).__name__ == "OutsideWindow" and self.clock.now() > trade.window_end:
                log.warning(
                    "trade %s: too late to confirm (%s); buyer may reclaim", trade.trade_id, exc
                )
                self._finish(trade, TradeState.EXPIRED)
            else:
                log.warning("confirming trade %s failed, will retry: %s", trade.trade_id, exc)
                self._retry_at[trade.trade_id] = time.monotonic() + self.config.retry_s
            return 0
        self._retry_at.pop(trade.trade_id, None)
        self.state.set_state(trade.trade_id, TradeState.CONFIRMING, confirm_tx=tx)
        log.info("trade %s confirmed: %s Wh (tx %s)", trade.trade_id, wh, tx)
        self._finish(trade, TradeState.CONFIRMED)
        return 1

    def tick(self) -> None:
        """One pass of follow → command → resend → collect → settle."""
        now = self.clock.now()
        self.follow()
        self.command(now)
        self.resend(now)
        self.collect()
        self.settle(now)

    # -- lifecycle --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("oracle tick failed; retrying")
                self._stop.wait(1.0)
            self._stop.wait(self.config.poll_s)

    def start(self) -> None:
        """Connect to the broker and run in a background thread."""
        self.link.start()
        self._thread = threading.Thread(target=self._run, name="oracle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and disconnect (state stays for the next start)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.link.stop()
