"""The home agent's ingest logic (no MQTT)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.core.mqtt import BrokerAddress
from gridpeer.hems.host import AgentHost
from gridpeer.hems.ingest import HouseAgent
from gridpeer.hems.metrics import AgentMetrics
from gridpeer.store.factory import open_store
from gridpeer.telemetry.validate import Rejected

T = "gridpeer/lab/h1/{}/reading"


def pv(ts: str, p: float = 100.0) -> bytes:
    return json.dumps({"ts": ts, "v": 300.0, "i": p / 300.0, "p": p}).encode()


def test_state_keeps_latest_by_time_and_metrics_count() -> None:
    agent = HouseAgent("lab", "h1")
    agent.handle(T.format("pv"), pv("2026-06-01T12:00:02Z", 200.0))
    agent.handle(T.format("pv"), pv("2026-06-01T12:00:01Z", 100.0))  # late arrival
    agent.handle(T.format("pv"), b"{not json")
    agent.handle(T.format("bess"), b'{"ts":"2026-06-01T12:00:00Z","v":50,"i":1,"soc":1.5}')
    assert agent.state["pv"].p == 200.0
    assert agent.state["pv"].ts == datetime(2026, 6, 1, 12, 0, 2, tzinfo=UTC)
    assert "bess" not in agent.state
    m = agent.metrics
    assert (m.received, m.accepted, m.rejected) == (4, 2, {"malformed": 1, "out_of_range": 1})
    assert [s.p for s in agent.take_pending()] == [200.0, 100.0]
    assert agent.take_pending() == []


def test_rejections_are_logged_with_reason(caplog: pytest.LogCaptureFixture) -> None:
    agent = HouseAgent("lab", "h1")
    with caplog.at_level(logging.WARNING):
        agent.handle(T.format("pv"), b"[]")
    assert "malformed" in caplog.text and "h1" in caplog.text


def test_log_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    agent = HouseAgent("lab", "h1")
    with caplog.at_level(logging.WARNING):
        for _ in range(50):
            agent.handle(T.format("pv"), b"x")
    assert len(caplog.records) == 5
    assert agent.metrics.rejected == {"malformed": 50}


@settings(deadline=None)  # no timing assertions: CI machines are loaded
@given(
    topic=st.text(max_size=40) | st.sampled_from([T.format("pv"), T.format("meter")]),
    payload=st.binary(max_size=200),
)
def test_garbage_never_raises_and_never_becomes_pending(topic: str, payload: bytes) -> None:
    agent = HouseAgent("lab", "h1")
    r = agent.handle(topic, payload)
    assert isinstance(r, Rejected)
    assert agent.pending == [] and agent.state == {}
    assert agent.metrics.rejected_total == 1 == agent.metrics.received


def test_host_routes_by_house_and_counts_unserved_houses() -> None:
    store = open_store(":memory:")
    host = AgentHost("lab", ["h1", "h2"], BrokerAddress(port=1), store)
    host.handle(T.format("pv"), pv("2026-06-01T12:00:00Z"))
    host.handle("gridpeer/lab/h2/pv/reading", pv("2026-06-01T12:00:00Z"))
    host.handle("gridpeer/lab/h3/pv/reading", pv("2026-06-01T12:00:00Z"))
    host.handle("junk", b"")
    assert host.flush() == 2
    host.handle(T.format("pv"), pv("2026-06-01T12:00:00Z"))  # redelivery
    assert host.flush() == 0
    assert store.count() == 2 and host.duplicates == 1
    assert host.unrouted.rejected == {"foreign": 2}
    total = host.totals()
    assert (total.received, total.accepted, total.stored, total.rejected_total) == (5, 3, 2, 2)
    store.close()


def test_metrics_add_and_snapshot_are_independent() -> None:
    a = AgentMetrics("h1", 3, 2, {"malformed": 1}, 2)
    b = AgentMetrics("h2", 1, 0, {"malformed": 1, "foreign": 0}, 0)
    s = a + b
    assert (s.house, s.received, s.rejected) == ("*", 4, {"malformed": 2, "foreign": 0})
    snap = a.snapshot()
    a.rejected["malformed"] = 99
    assert snap.rejected == {"malformed": 1}


def test_host_refuses_bad_arguments() -> None:
    store = open_store(":memory:")
    with pytest.raises(ValueError, match="at least one house"):
        AgentHost("lab", [], BrokerAddress(), store)
    with pytest.raises(ValueError, match="invalid house"):
        AgentHost("lab", ["h/1"], BrokerAddress(), store)
    store.close()


class _FlakyStore:
    """Fails the first ``failures`` writes, then delegates to SQLite."""

    def __init__(self, failures: int) -> None:
        self.inner = open_store(":memory:")
        self.failures = failures

    def write(self, samples: object) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("database is down")
        return self.inner.write(samples)  # type: ignore[arg-type]


def test_failed_store_writes_are_retried_without_loss() -> None:
    store = _FlakyStore(failures=2)
    host = AgentHost("lab", ["h1"], BrokerAddress(port=1), store)  # type: ignore[arg-type]
    for k in range(30):
        host.handle(T.format("pv"), pv(f"2026-06-01T12:00:{k:02d}Z"))
        if k % 10 == 9:
            host.flush()
    assert host.write_errors == 2 and host.stored == 30
    assert host.flush() == 0
    assert store.inner.count() == 30
    assert host.metrics()["h1"].stored == 30
