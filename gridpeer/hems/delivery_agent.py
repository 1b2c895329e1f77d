"""The home agent's delivery service: MQTT commands in, relays, metering, results out.

Runs :class:`~gridpeer.hems.delivery.DeliveryExecutor` against a clock and a
:class:`~gridpeer.hems.delivery_power.PowerSource`, persists every change in a
:class:`~gridpeer.hems.delivery_store.DeliveryStore`, and publishes each result retained
with QoS 1 on ``gridpeer/<community>/<house>/delivery/result/<trade_id>``.

A command repeated for a trade that is already done (the oracle asks again because it
has no result from this house) republishes the stored result, unchanged: the measured
Wh of a trade are fixed once it is done, so a lost result is re-sent and never re-metered.

Runnable as its own process (so tests can ``kill -9`` it)::

    gridpeer delivery-agent --house h1 --port 1883 --state h1.db \\
        --config community.toml          # relays and meters: [[accounts.devices]]
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import QOS, BrokerAddress, MqttClient, MqttTls
from gridpeer.hems.delivery import DeliveryExecutor, Phase, Task
from gridpeer.hems.delivery_power import PowerSource, TradeMeter
from gridpeer.hems.delivery_store import DeliveryStore
from gridpeer.telemetry.delivery import DeliveryCommand, Direction, command_topic, result_topic

log = logging.getLogger(__name__)

RESEND_S = 30.0
"""Wall seconds after which a result the broker has not acknowledged is published again
(paho already re-sends unacknowledged QoS-1 messages on every reconnection)."""


class DeliveryAgent:
    """One house's delivery execution.

    Args:
        community: community id (topic segment).
        house: house id.
        host: broker host; port: broker port.
        state_path: SQLite file for the delivery tasks.
        clock: model time.
        power: metered power through the relays.
        tick_s: wall seconds between steps.
        on_command: optional hook ``f(command, new)`` called when a command arrives.
        credentials: MQTT (user, password) when the broker requires them.
        tls: TLS to the broker (its certificate verified), None for plain TCP.
        link: an MQTT session shared with other houses' agents
            (:class:`~gridpeer.hems.delivery_host.DeliveryHost`, which subscribes, routes
            the commands to :meth:`on_message` and steps the agents); None: the agent's own.
        store: the tasks' store (a host's shared file); None: its own file ``state_path``.
    """

    def __init__(
        self,
        community: str,
        house: str,
        host: str,
        port: int,
        state_path: Path,
        clock: Clock,
        power: PowerSource,
        tick_s: float = 0.05,
        on_command: Callable[[DeliveryCommand, bool], None] | None = None,
        credentials: tuple[str, str] | None = None,
        tls: MqttTls | None = None,
        link: MqttClient | None = None,
        store: DeliveryStore | None = None,
    ) -> None:
        self.community, self.house = community, house
        self.clock, self.power, self.tick_s = clock, power, tick_s
        self.on_command = on_command
        self.rejected = 0
        self.republished = 0
        """Results sent again because the oracle repeated a finished trade's command."""
        self._store = store or DeliveryStore(state_path)
        tasks, self._reported = self._store.load()
        self.executor = DeliveryExecutor(house, tasks)
        self._check_reports = True  # done trades whose result may not be out yet
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = clock.now()
        self._meter_of: object = None  # the power source _meter was decided for
        self._meter: TradeMeter | None = None
        self._inflight: dict[int, tuple[Any, float]] = {}  # trade id -> (paho info, sent at)
        self.link = link or MqttClient(
            f"gridpeer-agent-{community}-{house}",
            BrokerAddress(host, port, tls=tls).with_credentials(credentials),
            subscriptions=[command_topic(community, house)],
            on_message=self.on_message,
        )

    def on_message(self, topic: str, payload: bytes) -> None:
        """A delivery command arrived on ``topic`` (this house's command topic)."""
        try:
            cmd = DeliveryCommand.model_validate_json(payload)
            with self._lock:
                new = self.executor.accept(cmd)
                if new:
                    self._store.save([self.executor.tasks[cmd.trade_id]])
                task = self.executor.tasks[cmd.trade_id]
                # the oracle repeats a command only while it misses this side's result:
                # a result already sent was lost (e.g. a broker restart without
                # persistence, or a cleared retained message), so the next tick sends
                # the stored result again, unchanged
                # (also when it is still in flight: the oracle asked after it was sent)
                tid = cmd.trade_id
                resend = (
                    not new
                    and task.phase is Phase.DONE
                    and (tid in self._reported or tid in self._inflight)
                )
                if resend:
                    self._reported.discard(tid)
                    self._inflight.pop(tid, None)  # the next tick publishes it again
                    self._check_reports = True
                    self.republished += 1
        except (ValidationError, ValueError) as exc:
            self.rejected += 1
            log.warning("rejected delivery command on %s: %s", topic, exc)
            return
        if new:
            log.info("%s: delivery command for trade %s", self.house, cmd.trade_id)
        elif resend:
            log.info("%s: trade %s asked again: republishing its result", self.house, cmd.trade_id)
        else:  # a repeat while the trade runs: it runs once
            log.debug("%s: repeated command for trade %s ignored", self.house, cmd.trade_id)
        if self.on_command is not None:
            self.on_command(cmd, new)

    def _trade_meter(self) -> TradeMeter | None:
        """``self.power`` if it meters each trade, else None. ``power`` may be replaced
        after start (tests do): decided again only when it is, since a runtime-checkable
        Protocol's ``isinstance`` costs ~10 µs, on every delivering house's every tick."""
        if self.power is not self._meter_of:
            self._meter_of = self.power
            self._meter = self.power if isinstance(self.power, TradeMeter) else None
        return self._meter

    def tick(self) -> list[Task]:
        """One step at the clock's now: switch relays, meter, persist, report results."""
        now = self.clock.now()
        with self._lock:
            if not self.executor.busy() and not self._check_reports:  # idle: nothing to do
                self._last = now
                return []
            dt = max(0.0, (now - self._last).total_seconds())
            self._last = now
            power: dict[Direction, float] = {}
            per_trade: dict[Direction, dict[int, float]] = {}
            for d in Direction:
                if not (shares := self.executor.shares(d)):
                    continue
                meter = self._trade_meter()
                counted = meter.trade_wh(d, now, shares) if meter is not None else None
                if counted is None:
                    power[d] = self.power.power_w(d, now, shares)
                else:  # the meter counts each trade: no pro-rata convention needed
                    per_trade[d] = counted
            changed = self.executor.step(now, power, dt, per_trade)
            for t in changed:  # both relays open when their trade is done
                if t.phase is Phase.DONE:
                    self.power.release(t.command.trade_id)
            active = [t for t in self.executor.tasks.values() if t.phase is Phase.CLOSED]
            self._store.save(changed + [t for t in active if t not in changed])
            unreported = [
                t
                for t in self.executor.tasks.values()
                if t.phase is Phase.DONE and t.command.trade_id not in self._reported
            ]
            self._check_reports = bool(unreported)  # look again until all are reported
        for task in unreported:
            self._report(task)
        return changed

    def _report(self, task: Task) -> None:
        """Publish ``task``'s result (retained, QoS 1) without waiting for the broker:
        a later tick marks it reported once acknowledged. Waiting here would stall the
        relays and meters for a round trip per result (on a slow link, past the next
        window's start)."""
        tid = task.command.trade_id
        sent = self._inflight.get(tid)
        if sent is not None:
            if sent[0].is_published():
                # in memory first: a repeated command arriving meanwhile must see it sent
                self._reported.add(tid)
                self._store.mark_reported(tid)
                self._inflight.pop(tid, None)  # on_message may have taken it already
                log.info("%s: trade %s done, %s Wh", self.house, tid, task.measured_wh)
                return
            if time.monotonic() - sent[1] < RESEND_S:
                return
        result = task.result()
        topic = result_topic(self.community, self.house, result.trade_id)
        try:
            info = self.link.paho.publish(topic, result.model_dump_json(), qos=QOS, retain=True)
        except (RuntimeError, ValueError) as exc:
            log.warning("MQTT publish to %s failed: %s", topic, exc)
            return
        self._inflight[tid] = (info, time.monotonic())

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.tick()
            except Exception:
                log.exception("delivery agent tick failed")

    def start(self) -> None:
        """Connect and start stepping in a background thread."""
        self.link.start()
        self._thread = threading.Thread(target=self._run, name=f"agent-{self.house}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop stepping, record the results the broker acknowledged meanwhile (waiting up
        to 2 s for those in flight), disconnect, close the state file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.drain_reports(2.0)
        self.link.stop()
        self.close()

    def drain_reports(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the results in flight and record those the broker
        acknowledged (else a restart would send them once more)."""
        deadline = time.monotonic() + timeout_s
        for tid, (info, _) in list(self._inflight.items()):
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            if info.is_published():
                self._reported.add(tid)
                self._store.mark_reported(tid)
                self._inflight.pop(tid, None)

    def close(self) -> None:
        """Close the state file (a hosted agent: its host stops the session)."""
        self._store.close()
