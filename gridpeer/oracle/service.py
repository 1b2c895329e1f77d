"""The oracle: chain events → delivery commands; metered results → on-chain confirmation.

Each :meth:`Oracle.tick`:

1. **follow** – checks the newest remembered block is still canonical (else rewinds to
   the common ancestor), then reads trade events by block range from the last processed
   block up to ``head - confirmations`` (``eth_getLogs``, never a full scan) and stores
   them with the new cursor in one transaction;
2. **command** – for each new trade whose window starts within ``lead_s`` model seconds,
   publishes a :class:`DeliveryCommand` (QoS 1) to the seller (OUT) and the buyer (IN);
   the trade becomes ``commanded`` only once the broker acknowledged both;
3. **ask again** – after a window's end, re-publishes the command of each side that has
   not reported, at ``window_end + ask_again_s[k]`` (settings);
4. **results** – stores each house's metered Wh (first report per side wins); a result
   that arrives for a trade already settled (an agent re-sent it on a late repeated
   command) is cleared from the broker again, not stored;
5. **settle** – applies the settlement rule (:func:`gridpeer.oracle.rules.settle`): when
   both meters reported, or at ``window_end + result_grace_s`` with what reported, it
   either confirms the rule's Wh on chain or opens a dispute (``openDispute``: the buyer
   cannot reclaim; the admin or a community meter settles). Each is done once: the state
   is ``confirming`` / ``disputing`` before the tx is sent and a retry or restart first
   asks the chain whether it already happened;
6. **watch disputes** – a disputed trade becomes ``resolved`` once the chain settled it
   (the admin's ``resolveDispute``); :meth:`Oracle.settle_dispute` settles one from a
   community meter's reading instead (``confirmDelivery``).

A database or chain node that goes away makes a tick fail: the tick is retried with
backoff, the outage is logged once when it starts and once when it ends, and every step
resumes where it stopped (results received meanwhile are held, not dropped).
All state is in :class:`~gridpeer.oracle.state.OracleState`, so a restart (even after
``kill -9``) resumes exactly where it stopped. Energies Wh, times UTC model time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress, MqttClient, MqttTls
from gridpeer.oracle.follower import common_ancestor, next_range
from gridpeer.oracle.ports import (
    SKIPPED_OUTSIDE_WINDOW,
    SKIPPED_TOO_MUCH,
    BatchConfirmer,
    BatchResult,
    BlockRef,
    ChainView,
)
from gridpeer.oracle.recovery import Backoff, Outage
from gridpeer.oracle.rules import Action, Reading, attribute, settle
from gridpeer.oracle.settings import OracleSettings
from gridpeer.oracle.state import FINAL, OracleState, StateUnavailable, TradeRow, TradeState
from gridpeer.telemetry.delivery import (
    DeliveryCommand,
    DeliveryResult,
    Direction,
    command_topic,
    result_filter,
    result_topic,
)

log = logging.getLogger(__name__)


OracleConfig = OracleSettings
"""Former name of :class:`~gridpeer.oracle.settings.OracleSettings`."""


RESEND_MAX_MESSAGES = 200
"""Most repeated commands one pass publishes; the others wait for the next passes. A slot
of 1,000 houses had ~350 trades in their window, all commanded in one pass and so all due
for repeat in the same later passes: 700 messages a pass (p99 of a pass 175 ms)."""

RESEND_BACKOFF = 8
"""A silent side's repeats space out from ``resend_s`` by doubling, up to this many
``resend_s``."""


class _OutsideWindow(Exception):
    """Stands for the contract's OutsideWindow refusal (a skipped trade's reason 3)."""


class Oracle:
    """The oracle process logic (start/stop runs :meth:`tick` in a thread).

    Args:
        chain: the chain (see :class:`~gridpeer.oracle.ports.ChainView`).
        state: persistent oracle state.
        host: MQTT broker host; port: its port.
        credentials: MQTT (user, password) when the broker requires them.
        tls: TLS to the broker (its certificate verified), None for plain TCP.
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
        config: OracleSettings | None = None,
        credentials: tuple[str, str] | None = None,
        tls: MqttTls | None = None,
    ) -> None:
        self.chain, self.state, self.clock = chain, state, clock
        self.config = config or OracleSettings()
        self.grace_s = chain.grace_seconds()
        self.config.check_grace(self.grace_s)
        if self.config.start_block > 0 and self.state.last_block() < 0:
            first = self.config.start_block - 1
            self.state.start_after(BlockRef(first, self.chain.block_hash(first) or ""))
        self.rejected = 0
        self.passes_ms: deque[float] = deque(maxlen=100_000)
        """Wall time of each pass :meth:`run_once` ran (ms), newest last."""
        self.head_seen = -1  # the chain head at the last follow (metrics: oracle lag)
        self._retry_at: dict[int, float] = {}
        self._resend_at: dict[int, float] = {}
        self._resend_gap: dict[int, float] = {}  # wall s from a trade's last repeat to its next
        self._check_at: dict[int, float] = {}  # next look at a disputed trade (wall s)
        self._asked: dict[int, int] = {}  # ask-again rounds done per trade (this run)
        self._results: queue.Queue[DeliveryResult] = queue.Queue()
        self._held: DeliveryResult | None = None  # taken from the queue, not yet stored
        self.db_outage = Outage("oracle state database", log)
        self.chain_outage = Outage("chain node", log)
        self._backoff = Backoff(first_s=0.2, max_s=5.0)
        self._results_ready_at = 0.0  # monotonic s: retained results have arrived by then
        # check once that what we confirmed is on chain (a node restarted from an older
        # state while we were away), and again after every rewind
        self._recheck_confirmed = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.link = MqttClient(
            f"gridpeer-oracle-{self.config.community}",
            BrokerAddress(host, port, tls=tls).with_credentials(credentials),
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
        """Read confirmed new trade events; returns the number of new trades.

        Two round trips to the node when nothing moved: the head together with the hash
        of the newest processed block (the reorg check), then the new blocks' trade logs.
        A range's end hash is read before its logs: a reorg between the two leaves a
        stored hash that the next pass's check finds replaced, and it reads again."""
        history = self.state.history()
        newest = history[-1].number if history else -1
        latest, newest_hash = self.chain.head_and_hash(newest)

        def canonical(number: int) -> str | None:
            return newest_hash if number == newest else self.chain.block_hash(number)

        ancestor = common_ancestor(history, canonical)
        if ancestor is not None:
            dropped = self.state.rewind(ancestor)
            log.warning("reorg: rewound to block %s, dropped %s trades", ancestor.number, dropped)
            self._recheck_confirmed = True
        if self._recheck_confirmed:  # until it succeeded (the node may fail again meanwhile)
            self.reopen_lost_confirmations()
            self._recheck_confirmed = False
        new = 0
        head = self.head_seen = latest.number
        while (
            rng := next_range(
                self.state.last_block(), head, self.config.confirmations, self.config.max_span
            )
        ) is not None:
            a, b = rng
            end_hash = latest.hash if b == latest.number else self.chain.block_hash(b)
            if end_hash is None:
                break  # the chain moved under us; retry next tick
            events = self.chain.trade_events(a, b)
            new += self.state.apply_range(BlockRef(b, end_hash), events)
        return new

    def reopen_lost_confirmations(self) -> int:
        """After the chain went back (a reorg, or a node restarted from a state saved before
        our last transactions): every trade this oracle confirmed whose grace is not over but
        that is open on chain again lost its confirmation; it goes back to ``confirming``
        (its delivered Wh kept) and the next settle step sends it again. A trade it disputed
        that is open but not disputed on chain goes back to ``disputing`` the same way.
        Runs on start, after a rewind, when the node is back after an outage, and when the
        node's nonce shows it lost our transactions. Returns how many trades it reopened."""
        now = self.clock.now()
        reopened = 0
        for trade in self.state.trades(TradeState.CONFIRMED, TradeState.DISPUTED):
            grace = trade.grace_s if trade.grace_s is not None else self.grace_s
            past = now > trade.window_end + timedelta(seconds=grace)
            if (trade.state is TradeState.CONFIRMED and past) or self.chain.is_settled(
                trade.trade_id
            ):
                continue  # settled, or past its grace: no confirmation can be sent any more
            if trade.state is TradeState.CONFIRMED:
                self.state.set_state(trade.trade_id, TradeState.CONFIRMING)
            elif not self.chain.is_disputed(trade.trade_id):
                self.state.set_state(trade.trade_id, TradeState.DISPUTING)
            else:
                continue
            log.warning(
                "trade %s: its %s is no longer on chain; sending it again",
                trade.trade_id,
                "confirmation" if trade.state is TradeState.CONFIRMED else "dispute",
            )
            reopened += 1
        return reopened

    def _node_lost_ours(self, exc: Exception) -> None:
        """A transaction failed because the node's nonce is below ours (``NonceGap``): it
        lost transactions we saw mined; what we settled is checked on the next tick."""
        if type(exc).__name__ == "NonceGap":
            self._recheck_confirmed = True

    def _messages(
        self, trade: TradeRow, sides: tuple[bool, bool] = (True, True)
    ) -> list[tuple[str, bytes | str, bool]]:
        """The delivery commands of ``trade`` for the sides asked: (topic, payload, retain).

        Raises:
            ValueError: a member that is not a known house.
        """
        out: list[tuple[str, bytes | str, bool]] = []
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
            out.append((command_topic(self.config.community, house), cmd.model_dump_json(), False))
        return out

    def _publish_all(self, messages: Sequence[tuple[str, bytes | str, bool]]) -> list[bool]:
        """Publish all messages, then wait once for the broker's acknowledgements."""
        many = getattr(self.link, "publish_many", None)
        if many is not None:
            return list(many(messages, timeout=2.0))
        return [self.link.publish(t, p, retain=r, timeout=2.0) for t, p, r in messages]

    def _command(self, trade: TradeRow, sides: tuple[bool, bool] = (True, True)) -> bool:
        return all(self._publish_all(self._messages(trade, sides)))

    def command(self, now: datetime) -> int:
        """Publish the commands of all trades whose window is near together (one wait for
        the broker's acknowledgements, one database transaction); returns how many trades
        became ``commanded`` (both commands acknowledged)."""
        lead = timedelta(seconds=self.config.lead_s)
        ready: list[tuple[TradeRow, int]] = []  # trade, its number of messages
        messages: list[tuple[str, bytes | str, bool]] = []
        expired: list[int] = []
        for trade in self.state.trades(TradeState.SEEN):
            if trade.window_start - lead > now:
                continue
            try:
                msgs = self._messages(trade)
            except ValueError as exc:  # e.g. a member that is not a known house
                log.error(
                    "trade %s cannot be delivered (%s); buyer may reclaim", trade.trade_id, exc
                )
                expired.append(trade.trade_id)
                continue
            ready.append((trade, len(msgs)))
            messages += msgs
        self.state.set_states(expired, TradeState.EXPIRED)
        acked = self._publish_all(messages) if messages else []
        done: list[int] = []
        i = 0
        for trade, k in ready:
            if all(acked[i : i + k]):
                done.append(trade.trade_id)
            i += k
        self.state.set_states(done, TradeState.COMMANDED)
        for tid in done:
            self._resend_at[tid] = time.monotonic() + self.config.resend_s
        return len(done)

    def resend(self, now: datetime) -> int:
        """During a trade's window, re-publish the command of each side that has not
        reported yet, ``resend_s`` after the command, then at doubling intervals up to
        ``RESEND_BACKOFF`` × ``resend_s`` (an agent that first connected after the
        command, or lost its session, still gets it; agents run it once). A tick's
        repeats are published together, with one wait for the broker's acknowledgements
        (one wait per trade took ~0.3 s a tick with 150 trades in their window), at most
        ``RESEND_MAX_MESSAGES`` of them, those waiting longest first. Returns how many
        trades' commands were repeated."""
        n = 0
        messages: list[tuple[str, bytes | str, bool]] = []
        mono = time.monotonic()
        due = [
            t
            for t in self.state.trades(TradeState.COMMANDED)
            if t.window_start <= now <= t.window_end
            and self._resend_at.get(t.trade_id, 0.0) <= mono
        ]
        due.sort(key=lambda t: self._resend_at.get(t.trade_id, 0.0))  # longest waiting first
        for trade in due:
            if len(messages) >= RESEND_MAX_MESSAGES:
                break  # the rest in the next passes
            sides = (trade.seller_out_wh is None, trade.buyer_in_wh is None)
            if any(sides):
                messages += self._messages(trade, sides)
                n += 1
            gap = self._resend_gap.get(trade.trade_id, self.config.resend_s) * 2
            gap = min(gap, RESEND_BACKOFF * self.config.resend_s)
            self._resend_gap[trade.trade_id] = gap
            self._resend_at[trade.trade_id] = mono + gap
        if messages:
            self._publish_all(messages)
        return n

    def ask_again(self, now: datetime) -> int:
        """After a window's end, re-publish the command of each side that has not reported,
        once per due round of ``ask_again_s`` (an agent that lost the command, or whose
        result was lost, is asked again). A tick's asks are published together with one
        wait for the broker (at most ``RESEND_MAX_MESSAGES``; the rest on the next tick).
        Returns how many trades were asked."""
        asks = self.config.asks_s()
        batch: list[tuple[TradeRow, int, list[str], int]] = []  # trade, round, silent, msgs
        messages: list[tuple[str, bytes | str, bool]] = []
        for trade in self.state.trades(TradeState.COMMANDED):
            sides = (trade.seller_out_wh is None, trade.buyer_in_wh is None)
            if not any(sides) or now <= trade.window_end:
                continue
            after = (now - trade.window_end).total_seconds()
            due = sum(1 for a in asks if a <= after)
            done = self._asked.setdefault(trade.trade_id, max(due - 1, 0))  # restart: once
            if due > done and len(messages) < RESEND_MAX_MESSAGES:
                msgs = self._messages(trade, sides)
                silent = [h for h, s in zip((trade.seller, trade.buyer), sides, strict=True) if s]
                batch.append((trade, due, silent, len(msgs)))
                messages += msgs
        acked = self._publish_all(messages) if messages else []
        n = i = 0
        for trade, due, silent, k in batch:
            if all(acked[i : i + k]):  # a failed publish: asked again next tick
                log.info("trade %s: asked %s again (round %s)", trade.trade_id, silent, due)
                self._asked[trade.trade_id] = due
                n += 1
            i += k
        return n

    def collect(self) -> int:
        """Store the results received since the last call; returns how many.

        A result is removed from the queue only once stored: if the database fails, it
        is held and stored first on the next call."""
        n = 0
        while True:
            if self._held is None:
                try:
                    self._held = self._results.get_nowait()
                except queue.Empty:
                    return n
            r = self._held
            trade = self.state.trade(r.trade_id)
            if trade is None:
                log.warning("result for unknown trade %s from %s", r.trade_id, r.house)
                self._held = None
                continue
            expected = trade.seller if r.direction is Direction.OUT else trade.buyer
            if r.house != expected:
                self.rejected += 1
                log.warning(
                    "result for trade %s from %s, expected %s", r.trade_id, r.house, expected
                )
                self._held = None
                continue
            if trade.state in FINAL:  # a result re-sent after the trade was settled
                self.link.publish(
                    result_topic(self.config.community, r.house, r.trade_id),
                    b"",
                    retain=True,
                    timeout=0,
                )
                self._held = None
                continue
            self.state.record_result(r.trade_id, r.direction is Direction.OUT, r.measured_wh)
            self._held = None
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
        self._forget([trade.trade_id])

    def _forget(self, trade_ids: Sequence[int]) -> None:
        """Drop the timers of finished trades (a year of trades would fill memory)."""
        for tid in trade_ids:
            for timers in (
                self._retry_at,
                self._resend_at,
                self._resend_gap,
                self._check_at,
                self._asked,
            ):
                timers.pop(tid, None)

    def _due(self, trade_id: int) -> bool:
        return self._retry_at.get(trade_id, 0.0) <= time.monotonic()

    def _batcher(self) -> BatchConfirmer | None:
        return self.chain if hasattr(self.chain, "confirm_batch") else None  # type: ignore[return-value]

    def settle(self, now: datetime) -> int:
        """Apply the settlement rule; returns the confirm/dispute transactions sent.

        On a chain with ``confirmBatch`` every trade ready to confirm in this tick goes in
        one transaction (``confirm_batch_max`` trades each); a lone trade uses
        ``confirmDelivery``."""
        sent = 0
        batched = self._batcher() is not None
        to_confirm: list[TradeRow] = []
        confirming = [t for t in self.state.trades(TradeState.CONFIRMING) if self._due(t.trade_id)]
        for trade in self._reconcile(confirming) if batched else confirming:
            # left from an earlier tick or run: its tx may have been mined (crash, node
            # gone before the receipt): ask the chain before sending again
            if self.chain.is_settled(trade.trade_id):
                self._finish(trade, TradeState.CONFIRMED)
            elif batched:
                to_confirm.append(trade)
            else:
                sent += self._confirm(trade, trade.delivered_wh or 0)
        for trade in self.state.trades(TradeState.DISPUTING):
            if not self._due(trade.trade_id):
                continue
            if self.chain.is_settled(trade.trade_id):
                self._finish(trade, TradeState.RESOLVED)
            elif self.chain.is_disputed(trade.trade_id):
                self.state.set_state(trade.trade_id, TradeState.DISPUTED)
            else:
                sent += self._dispute(trade)
        for trade in self.state.trades(TradeState.DISPUTED):
            if self._check_at.get(trade.trade_id, 0.0) > time.monotonic():
                continue
            self._check_at[trade.trade_id] = time.monotonic() + self.config.resend_s
            if self.chain.is_settled(trade.trade_id):
                log.info("trade %s: dispute resolved on chain", trade.trade_id)
                self._finish(trade, TradeState.RESOLVED)
        pending = self.state.trades(TradeState.SEEN, TradeState.COMMANDED)
        readings = attribute(  # a meter shared by a window's trades counts as one total
            [
                Reading(
                    t.trade_id,
                    t.seller,
                    t.buyer,
                    (t.window_start, t.window_end),
                    t.energy_wh,
                    t.seller_out_wh,
                    t.buyer_in_wh,
                )
                for t in pending
            ]
        )
        decided: list[tuple[TradeRow, int, str]] = []
        for trade in (t for t in pending if t.state is TradeState.COMMANDED):
            seller_wh, buyer_wh = readings[trade.trade_id]
            verdict = settle(
                trade.energy_wh,
                seller_wh,
                buyer_wh,
                # a side is judged silent only once the broker had time to hand over the
                # retained results of this (re)start
                deadline_passed=now > self.deadline(trade)
                and time.monotonic() >= self._results_ready_at,
                tolerance=self.config.tolerance,
            )
            if verdict.action is Action.CONFIRM and batched:
                decided.append((trade, verdict.delivered_wh, verdict.reason))
            elif verdict.action is Action.CONFIRM:
                self.state.set_state(
                    trade.trade_id,
                    TradeState.CONFIRMING,
                    delivered_wh=verdict.delivered_wh,
                    reason=verdict.reason,
                )
                sent += self._confirm(trade, verdict.delivered_wh)
            elif verdict.action is Action.DISPUTE:
                self.state.set_state(trade.trade_id, TradeState.DISPUTING, reason=verdict.reason)
                log.warning("trade %s: %s; opening a dispute", trade.trade_id, verdict.reason)
                sent += self._dispute(trade)
        if decided:  # recorded as confirming (one transaction) before anything is sent
            self.state.set_states(
                [t.trade_id for t, _, _ in decided],
                TradeState.CONFIRMING,
                delivered_wh=[wh for _, wh, _ in decided],
                reasons=[why for _, _, why in decided],
            )
            to_confirm += [
                replace(t, state=TradeState.CONFIRMING, delivered_wh=wh, reason=why)
                for t, wh, why in decided
            ]
        cap = self.config.confirm_batch_max
        for i in range(0, len(to_confirm), cap):
            sent += self._confirm_batch(to_confirm[i : i + cap])
        return sent

    def deadline(self, trade: TradeRow) -> datetime:
        """When the rule decides with what reported: window end + ``result_grace_s``, or
        earlier for a trade made with a shorter grace (settings ``deadline_s``)."""
        grace = trade.grace_s if trade.grace_s is not None else self.grace_s
        return trade.window_end + timedelta(seconds=self.config.deadline_s(grace))

    def settle_dispute(self, trade_id: int, delivered_wh: int, source: str) -> None:
        """Settle a disputed trade from a trusted reading (e.g. the community meter at the
        feeder), through the oracle's ``confirmDelivery``, on the next tick.

        Args:
            trade_id: a trade in ``disputing`` or ``disputed``.
            delivered_wh: the trusted reading, Wh (0..contracted).
            source: who measured it (stored as the reason).

        Raises:
            ValueError: unknown trade, not disputed, or Wh out of range.
        """
        trade = self.state.trade(trade_id)
        if trade is None or trade.state not in (TradeState.DISPUTING, TradeState.DISPUTED):
            raise ValueError(f"trade {trade_id} is not disputed")
        if not 0 <= delivered_wh <= trade.energy_wh:
            raise ValueError(f"delivered Wh must be in 0..{trade.energy_wh}, got {delivered_wh}")
        self.state.set_state(
            trade_id,
            TradeState.CONFIRMING,
            delivered_wh=delivered_wh,
            reason=f"dispute settled by {source} ({delivered_wh} Wh)",
        )

    def _too_late(self, trade: TradeRow, exc: Exception) -> bool:
        """The contract refused because the trade's settlement time is over."""
        grace = trade.grace_s if trade.grace_s is not None else self.grace_s
        closes = trade.window_end + timedelta(seconds=grace)
        late = type(exc).__name__ == "OutsideWindow" and self.clock.now() > trade.window_end
        return late or self.clock.now() > closes

    def _confirm(self, trade: TradeRow, wh: int) -> int:
        try:
            tx = self.chain.confirm_delivery(trade.trade_id, wh)
        except Exception as exc:
            self._node_lost_ours(exc)
            if self.chain.is_settled(trade.trade_id):
                log.warning("trade %s already closed on chain (%s)", trade.trade_id, exc)
                self._finish(trade, TradeState.EXPIRED)
            elif self._too_late(trade, exc):
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

    def _confirm_batch(self, trades: list[TradeRow]) -> int:
        """Confirm ``trades`` (state ``confirming``, ``delivered_wh`` set) in one
        ``confirmBatch``; returns 1 if it was sent. The batch's tx hash is stored with its
        trades before the node sees it; a restart finds them ``confirming`` and asks the
        chain which ones settled (the contract settles a trade once: a repeat is skipped)."""
        chain = self._batcher()
        if len(trades) == 1 or chain is None:
            return sum(self._confirm(t, t.delivered_wh or 0) for t in trades)
        ids = [t.trade_id for t in trades]
        pairs = [(t.trade_id, t.delivered_wh or 0) for t in trades]
        try:
            result = chain.confirm_batch(
                pairs,
                on_signed=lambda h: self.state.set_states(ids, TradeState.CONFIRMING, confirm_tx=h),
            )
        except Exception as exc:
            self._node_lost_ours(exc)
            log.warning("confirming %s trades failed, will retry: %s", len(ids), exc)
            for tid in ids:
                self._retry_at[tid] = time.monotonic() + self.config.retry_s
            if not type(exc).__module__.startswith("gridpeer.chain"):
                raise  # the node is unreachable: the tick fails (one outage log line)
            return 0
        for tid in ids:
            self._retry_at.pop(tid, None)
        self._apply(result, trades)
        return 1

    def _reconcile(self, trades: list[TradeRow]) -> list[TradeRow]:
        """Trades left ``confirming`` from an earlier tick or run with a batch's tx hash:
        settle them from that transaction's receipt (its DeliveryConfirmed and
        ConfirmSkipped events). Returns the trades it did not decide (no hash, unknown tx,
        or not in it): they are checked on chain and sent again."""
        lookup = getattr(self.chain, "batch_outcome", None)
        if lookup is None:
            return trades
        rest: list[TradeRow] = []
        groups: dict[str, list[TradeRow]] = {}
        for t in trades:
            if t.confirm_tx:
                groups.setdefault(t.confirm_tx, []).append(t)
            else:
                rest.append(t)
        for tx, group in groups.items():
            outcome: BatchResult | None = lookup(tx)
            if outcome is None:
                rest += group
                continue
            # a trade skipped as not yet confirmable (3) is sent again, not decided here
            known = set(outcome.confirmed) | {
                t for t, why in outcome.skipped.items() if why != SKIPPED_OUTSIDE_WINDOW
            }
            mine = [t for t in group if t.trade_id in known]
            if mine:
                log.info("batch %s: %s trades reconciled from its receipt", tx, len(mine))
                self._apply(
                    BatchResult(
                        tx,
                        outcome.confirmed,
                        {t: w for t, w in outcome.skipped.items() if t in known},
                    ),
                    mine,
                )
            rest += [t for t in group if t.trade_id not in known]
        return rest

    def _apply(self, result: BatchResult, trades: list[TradeRow]) -> None:
        """Record what a mined ``confirmBatch`` did to ``trades``: confirmed ones become
        ``confirmed``; skipped ones ``expired`` or retried, by the contract's reason."""
        by_id = {t.trade_id: t for t in trades}
        ok = [by_id[t] for t in result.confirmed if t in by_id]
        self.state.set_states(
            [t.trade_id for t in ok], TradeState.CONFIRMING, confirm_tx=result.tx_hash
        )
        self._finish_many(ok, TradeState.CONFIRMED)
        log.info(
            "%s trades confirmed in one transaction (tx %s), %s skipped",
            len(ok),
            result.tx_hash,
            len(result.skipped),
        )
        expired: list[TradeRow] = []
        for tid, reason in result.skipped.items():
            trade = by_id.get(tid)
            if trade is None or tid in result.confirmed:  # listed twice: settled once
                continue
            if reason == SKIPPED_TOO_MUCH:
                log.error(
                    "trade %s: contract refused %s Wh; buyer may reclaim", tid, trade.delivered_wh
                )
                expired.append(trade)
            elif reason == SKIPPED_OUTSIDE_WINDOW and not self._too_late(trade, _OutsideWindow()):
                log.warning("trade %s: not yet confirmable on chain, will retry", tid)
                self._retry_at[tid] = time.monotonic() + self.config.retry_s
            elif reason == SKIPPED_OUTSIDE_WINDOW:
                log.warning("trade %s: too late to confirm; buyer may reclaim", tid)
                expired.append(trade)
            else:
                log.warning("trade %s already closed on chain (skipped in batch)", tid)
                expired.append(trade)
        self._finish_many(expired, TradeState.EXPIRED)

    def _finish_many(self, trades: Sequence[TradeRow], state: TradeState) -> None:
        """:meth:`_finish` for many trades: retained results cleared together, one
        database transaction."""
        if not trades:
            return
        clears: list[tuple[str, Any, bool]] = [
            (result_topic(self.config.community, house, t.trade_id), b"", True)
            for t in trades
            for house in (t.seller, t.buyer)
        ]
        self._publish_all(clears)
        self.state.set_states([t.trade_id for t in trades], state)
        self._forget([t.trade_id for t in trades])

    def _dispute(self, trade: TradeRow) -> int:
        seller_wh, buyer_wh = trade.seller_out_wh or 0, trade.buyer_in_wh or 0
        try:
            tx = self.chain.open_dispute(trade.trade_id, seller_wh, buyer_wh)
        except Exception as exc:
            self._node_lost_ours(exc)
            if self.chain.is_settled(trade.trade_id):
                log.warning("trade %s already closed on chain (%s)", trade.trade_id, exc)
                self._finish(trade, TradeState.EXPIRED)
            elif self.chain.is_disputed(trade.trade_id):
                self.state.set_state(trade.trade_id, TradeState.DISPUTED)
            elif self._too_late(trade, exc):
                log.warning(
                    "trade %s: too late to dispute (%s); buyer may reclaim", trade.trade_id, exc
                )
                self._finish(trade, TradeState.EXPIRED)
            else:
                log.warning("disputing trade %s failed, will retry: %s", trade.trade_id, exc)
                self._retry_at[trade.trade_id] = time.monotonic() + self.config.retry_s
            return 0
        self._retry_at.pop(trade.trade_id, None)
        self.state.set_state(trade.trade_id, TradeState.DISPUTED, confirm_tx=tx)
        log.info(
            "trade %s disputed on chain: seller %s Wh, buyer %s Wh (tx %s)",
            trade.trade_id,
            seller_wh,
            buyer_wh,
            tx,
        )
        return 1

    def tick(self) -> None:
        """One pass of follow → command → resend → ask again → collect → settle."""
        now = self.clock.now()
        self.follow()
        self.command(now)
        self.resend(now)
        self.ask_again(now)
        self.collect()
        self.settle(now)

    # -- lifecycle --------------------------------------------------------------------------
    def run_once(self) -> bool:
        """One tick that never raises: a failure is logged once per outage and the next
        attempt is delayed by a growing backoff. Returns True if the tick completed."""
        if not self._backoff.ready():
            return False
        t0 = time.perf_counter()
        try:
            self.tick()
        except StateUnavailable as exc:
            self.db_outage.failed(exc)
        except Exception as exc:  # the chain node (connection refused, timeouts, …)
            if not self.chain_outage.down:
                log.debug("oracle tick failed", exc_info=True)
            self.chain_outage.failed(exc)
        else:
            if self.chain_outage.down:  # the node is back: it may have lost our last txs
                self._recheck_confirmed = True
            self.db_outage.ok()
            self.chain_outage.ok()
            self._backoff.succeeded()
            return True
        finally:
            self.passes_ms.append(1000 * (time.perf_counter() - t0))
        self._backoff.failed()
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.config.poll_s)

    def start(self) -> None:
        """Connect to the broker and run in a background thread."""
        self.link.start()
        self._results_ready_at = time.monotonic() + max(self.config.resend_s, 1.0)
        self._thread = threading.Thread(target=self._run, name="oracle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and disconnect (state stays for the next start)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.link.stop()
