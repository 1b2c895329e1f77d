"""MQTT side of the home agents: one persistent QoS-1 session serving the
:class:`~gridpeer.hems.ingest.HouseAgent` of one or more houses, writing their samples
to the store in batches from a background flusher thread.

A valid message is acknowledged to the broker (PUBACK) only after the batch holding it is
committed to the store, so a crash of the agent loses nothing: the broker redelivers what
was not acknowledged, and the store ignores what it already has. Rejected messages are
acknowledged at once (they are never stored).

The demo and ``serve`` run one host per house (each house's agent has its own session);
large simulations and the benchmark run a few hosts, each serving many houses.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import QOS, BrokerAddress, MqttClient
from gridpeer.hems.ingest import HouseAgent
from gridpeer.hems.metrics import AgentMetrics
from gridpeer.store.base import Sample, Store, StoreUnavailable
from gridpeer.telemetry.validate import RejectReason

log = logging.getLogger(__name__)

MAX_BACKLOG = 1_000_000
"""Samples kept in memory for retry while the store fails. Beyond this the backlog is
dropped *unacknowledged*: the broker redelivers those messages when the agent reconnects."""


class AgentHost:
    """Agents of ``houses`` behind one MQTT session (client id ``client_id``, persistent).

    Args:
        clock: the model clock; readings dated implausibly far from its now are rejected
            (none checked without one).
        batch_size: flush as soon as this many samples are pending.
        flush_interval_s: flush at least this often (wall seconds) when anything is pending.
        idle_flush_s: also flush when nothing arrived for this long (wall seconds): a broker
            that limits unacknowledged messages in flight (Mosquitto's default
            ``max_inflight_messages 20``) then waits only this long for the acks.
        share: subscribe as a member of the MQTT shared subscription group of this name
            (``$share/<share>/<filter>``): the broker hands each message to one member
            only, so several hosts (processes, machines) can share the same houses.
    """

    def __init__(
        self,
        community: str,
        houses: Sequence[str],
        broker: BrokerAddress,
        store: Store,
        *,
        client_id: str | None = None,
        clock: Clock | None = None,
        batch_size: int = 1000,
        flush_interval_s: float = 0.2,
        idle_flush_s: float = 0.02,
        share: str | None = None,
    ) -> None:
        if not houses:
            raise ValueError("an agent host needs at least one house")
        if batch_size < 1 or flush_interval_s <= 0:
            raise ValueError("batch_size must be >= 1 and flush_interval_s > 0")
        self.community = community
        self.agents = {h: HouseAgent(community, h, clock) for h in houses}
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.idle_flush_s = idle_flush_s
        self.share = share
        self._last_message_at = 0.0  # time.monotonic() of the last accepted message
        self.unrouted = AgentMetrics("*")  # messages for houses this host does not serve
        self.stored = 0
        self.duplicates = 0
        self.write_errors = 0
        self.store_down = False  # the last write found the store unavailable
        self.subscribed = threading.Event()
        self.lock = threading.Lock()  # guards the agents' state, metrics and pending lists
        self._write_lock = threading.Lock()  # one store write at a time, in order
        self._pending_count = 0
        self._backlog: list[Sample] = []
        self._backlog_acks: list[tuple[int, int]] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None
        self._sub_mids: set[int] = set()
        self._session = 0  # connection number; message ids are only valid within one
        self._unacked: list[tuple[int, int]] = []  # (session, mid) of pending samples
        cid = client_id or f"gp-{community}-{houses[0]}-agent"
        self.mqtt = MqttClient(cid, broker, manual_ack=True)
        self.mqtt.on_connected = self._subscribe  # type: ignore[method-assign]
        self.mqtt.paho.on_message = self._on_message
        self.mqtt.paho.on_subscribe = self._on_subscribe

    # --- MQTT thread ---------------------------------------------------------------
    def _subscribe(self) -> None:
        with self.lock:
            self._session += 1
        prefix = f"$share/{self.share}/" if self.share else ""
        filters = [(prefix + f, QOS) for a in self.agents.values() for f in a.subscriptions]
        for k in range(0, len(filters), 100):  # stay well inside packet size limits
            _, mid = self.mqtt.paho.subscribe(filters[k : k + 100])
            if mid is not None:
                self._sub_mids.add(mid)

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        if any(c.is_failure for c in codes):
            log.error("broker refused a subscription of %s: %s", self.community, codes)
            return
        self._sub_mids.discard(mid)
        if not self._sub_mids:
            self.subscribed.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        mid = msg.mid if msg.qos else None
        if not self.handle(msg.topic, msg.payload, mid) and msg.qos:
            client.ack(msg.mid, msg.qos)  # rejected: never stored, nothing to wait for

    def handle(self, topic: str, payload: bytes, mid: int | None = None) -> bool:
        """Route one message to its house's agent (thread-safe; used by the MQTT thread).

        Returns whether it was accepted; an accepted message's ``mid`` is acknowledged to
        the broker once its batch is stored."""
        parts = topic.split("/", 3)
        agent = self.agents.get(parts[2]) if len(parts) > 2 else None
        with self.lock:
            if agent is None:
                self.unrouted.received += 1
                if self.unrouted.reject(RejectReason.FOREIGN) <= 5:
                    log.warning(
                        "%s: message on %r for a house not served here", self.community, topic
                    )
                return False
            before = len(agent.pending)
            agent.handle(topic, payload)
            if len(agent.pending) == before:
                return False
            self._pending_count += 1
            self._last_message_at = time.monotonic()
            if mid is not None:
                self._unacked.append((self._session, mid))
            wake = self._pending_count == 1 or self._pending_count >= self.batch_size
        if wake and not self._wake.is_set():
            self._wake.set()
        return True

    # --- flushing ------------------------------------------------------------------
    def flush(self) -> int:
        """Write every pending sample to the store now, then acknowledge their messages;
        returns samples newly stored."""
        with self._write_lock:
            with self.lock:
                taken = {h: a.take_pending() for h, a in self.agents.items() if a.pending}
                self._pending_count = 0
                acks, self._unacked = self._backlog_acks + self._unacked, []
            batch = self._backlog + [s for samples in taken.values() for s in samples]
            if not batch:
                return 0
            try:
                inserted = self.store.write(batch)
            except Exception as exc:
                self.write_errors += 1
                if not isinstance(exc, StoreUnavailable):
                    log.exception(
                        "%s: store write of %d samples failed; will retry",
                        self.community,
                        len(batch),
                    )
                elif not self.store_down:  # an outage: once, not on every retry
                    log.warning("%s: %s; holding readings unacknowledged", self.community, exc)
                self.store_down = isinstance(exc, StoreUnavailable)
                if len(batch) > MAX_BACKLOG:
                    log.error(
                        "%s: dropping %d unstored samples from memory, unacknowledged (the "
                        "broker redelivers them on reconnect)",
                        self.community,
                        len(batch),
                    )
                    batch, acks = [], []
                self._backlog, self._backlog_acks = batch, acks
                return 0
            if self.store_down:
                log.info("%s: the store is back; %d samples written", self.community, len(batch))
                self.store_down = False
            self._backlog, self._backlog_acks = [], []
            self._ack(acks)
            self.stored += inserted
            self.duplicates += len(batch) - inserted
            if len(self.agents) == 1:  # exact per-house figures when a host serves one house
                (agent,) = self.agents.values()
                agent.metrics.stored += inserted
                agent.metrics.duplicates += len(batch) - inserted
            return inserted

    def _ack(self, acks: list[tuple[int, int]]) -> None:
        """PUBACK stored messages received on the current connection; older ones will be
        redelivered by the broker (and ignored by the store as duplicates)."""
        with self.lock:
            session = self._session
        client = self.mqtt.paho
        for sess, mid in acks:
            if sess == session:
                client.ack(mid, QOS)

    def _flush_loop(self) -> None:
        oldest: float | None = None  # when the flusher first saw the oldest pending sample
        while not self._stopping.is_set():
            self._wake.wait(self.idle_flush_s if oldest is not None else self.flush_interval_s)
            self._wake.clear()
            if self._pending_count == 0 and not self._backlog:
                oldest = None
                continue
            now = time.monotonic()
            oldest = now if oldest is None else oldest
            due = now - oldest >= self.flush_interval_s
            if not self._backlog:  # store healthy: also flush full batches and pauses
                due = (
                    due
                    or self._pending_count >= self.batch_size
                    or now - self._last_message_at >= self.idle_flush_s
                )
            if due:
                self.flush()
                oldest = None

    # --- lifecycle -----------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> None:
        """Connect, subscribe (waits for the broker's SUBACK) and start the flusher."""
        self._stopping.clear()
        self._flusher = threading.Thread(
            target=self._flush_loop, name="gp-agent-flush", daemon=True
        )
        self._flusher.start()
        try:
            self.mqtt.start(timeout_s)
            if not self.subscribed.wait(timeout_s):
                raise ConnectionError(f"no SUBACK from broker for {self.community} agents")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the flusher, write and acknowledge what is pending, then disconnect."""
        self._stopping.set()
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        self.flush()
        self.mqtt.stop()

    def metrics(self) -> dict[str, AgentMetrics]:
        """Snapshot of every house's metrics."""
        with self.lock:
            return {h: a.metrics.snapshot() for h, a in self.agents.items()}

    def totals(self) -> AgentMetrics:
        """Sum over the houses of this host, with the host's store figures."""
        with self.lock:
            total = AgentMetrics("*") + self.unrouted
            for a in self.agents.values():
                total = total + a.metrics
        total.stored, total.duplicates, total.write_errors = (
            self.stored,
            self.duplicates,
            self.write_errors,
        )
        return total

    def wait_stored(self, n: int, timeout_s: float) -> bool:
        """Flush until at least ``n`` samples were newly stored by this host."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.flush()
            if self.stored >= n:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
