"""The ingest part of a house's home agent (HEMS): validate each telemetry message, keep
the current state of the house's devices, and queue valid samples for the store.

Pure and synchronous (no MQTT, no store): :class:`~gridpeer.hems.host.AgentHost` feeds it
messages and writes its batches. Bad messages are rejected with a logged reason and
counted; they never raise and never reach the store.
"""

from __future__ import annotations

import logging

from gridpeer.core.clock import Clock
from gridpeer.hems.metrics import AgentMetrics
from gridpeer.store.base import Sample
from gridpeer.telemetry.topics import check_name, house_filter
from gridpeer.telemetry.validate import Rejected, validate_message

log = logging.getLogger(__name__)

LOG_FIRST = 5
LOG_EVERY = 1000
"""Rejections are logged for the first ``LOG_FIRST`` of each reason, then every
``LOG_EVERY``-th, so a flood of bad messages cannot flood the log."""


class HouseAgent:
    """Telemetry state of one house.

    With a ``clock``, readings dated outside the plausibility window around its now
    (:data:`gridpeer.telemetry.validate.DEFAULT_WINDOW`) are rejected as implausible.

    Attributes:
        state: latest accepted sample per device (``meter`` | ``pv`` | ``bess``).
        metrics: received / accepted / rejected counters (stored counts added by the host).
    """

    def __init__(self, community: str, house: str, clock: Clock | None = None) -> None:
        self.community = check_name(community, "community")
        self.house = check_name(house, "house")
        self.clock = clock
        self.state: dict[str, Sample] = {}
        self.metrics = AgentMetrics(house)
        self.pending: list[Sample] = []

    @property
    def subscriptions(self) -> list[str]:
        """MQTT topic filters this agent needs."""
        return [house_filter(self.community, self.house)]

    def handle(self, topic: str, payload: bytes) -> Sample | Rejected:
        """Process one message: validate, update state, queue for storage. Never raises."""
        self.metrics.received += 1
        now = self.clock.now() if self.clock is not None else None
        result = validate_message(topic, payload, self.community, self.house, now=now)
        if isinstance(result, Rejected):
            n = self.metrics.reject(result.reason)
            if n <= LOG_FIRST or n % LOG_EVERY == 0:
                log.warning(
                    "%s/%s rejected message #%d (%s) on %r: %s",
                    self.community,
                    self.house,
                    n,
                    result.reason.value,
                    topic,
                    result.detail,
                )
            return result
        self.metrics.accepted += 1
        current = self.state.get(result.device)
        if current is None or result.ts >= current.ts:
            self.state[result.device] = result
        self.pending.append(result)
        return result

    def take_pending(self) -> list[Sample]:
        """Samples accepted since the last call (and clear them)."""
        out, self.pending = self.pending, []
        return out
