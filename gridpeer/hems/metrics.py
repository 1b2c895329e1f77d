"""Ingest metrics of a home agent, readable by the web app (counts since start)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gridpeer.telemetry.validate import RejectReason


@dataclass
class AgentMetrics:
    """Counters of one house's agent (or, summed, of several).

    Attributes:
        house: house id (``"*"`` for a sum over houses).
        received: MQTT messages received.
        accepted: messages that passed validation.
        rejected: rejected messages by reason (see :class:`RejectReason`).
        stored: samples newly written to the store.
        duplicates: accepted samples the store already had (QoS-1 redeliveries).
        write_errors: failed store writes (the batch is kept and retried).
    """

    house: str
    received: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    stored: int = 0
    duplicates: int = 0
    write_errors: int = 0

    @property
    def rejected_total(self) -> int:
        """All rejected messages."""
        return sum(self.rejected.values())

    def reject(self, reason: RejectReason) -> int:
        """Count one rejection; returns the new count for that reason."""
        n = self.rejected.get(reason.value, 0) + 1
        self.rejected[reason.value] = n
        return n

    def snapshot(self) -> AgentMetrics:
        """An independent copy (safe to hand to another thread)."""
        return replace(self, rejected=dict(self.rejected))

    def __add__(self, other: AgentMetrics) -> AgentMetrics:
        reasons = {**self.rejected}
        for k, v in other.rejected.items():
            reasons[k] = reasons.get(k, 0) + v
        return AgentMetrics(
            self.house if self.house == other.house else "*",
            self.received + other.received,
            self.accepted + other.accepted,
            reasons,
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            self.write_errors + other.write_errors,
        )
