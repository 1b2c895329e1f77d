"""A real PostgreSQL restart while ingest writes and the web app reads.

The server the fixture started is stopped and started again (``fast``: clean shutdown
that drops every connection; ``immediate``: no shutdown checkpoint, crash recovery on
start). While it is down the API answers 503 with the reason and ``/readyz`` names the
store; within 10 s of the server being back everything answers again, and every reading
ingest took in (it retries its failed batches) is stored exactly once."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from gridpeer.core.clock import Clock
from gridpeer.hems.host import AgentHost
from gridpeer.store.base import Resolution, StoreUnavailable
from gridpeer.store.factory import open_store
from gridpeer.telemetry.broker import BrokerAddress
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from tests.services.postgres import PgServer
from tests.web.conftest import DAY0, HOUSES

TOPIC = "gridpeer/lab/h1/pv/reading"
BACK_WITHIN_S = 10.0


def _reading(k: int) -> bytes:
    ts = DAY0 + timedelta(hours=10, seconds=k)
    return json.dumps({"ts": ts.isoformat(), "v": 300.0, "i": 1.0, "p": 300.0}).encode()


def _wait(ok: object, timeout_s: float) -> float:
    """Seconds until ``ok()`` is true; fails after ``timeout_s``."""
    t0 = time.monotonic()
    while not ok():  # type: ignore[operator]
        assert time.monotonic() - t0 < timeout_s, "not back in time"
        time.sleep(0.05)
    return time.monotonic() - t0


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_restart_while_written_and_read(
    postgres_restartable: PgServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gridpeer.hems.host")
    url = f"{postgres_restartable.url}/postgres"
    writer, reader, live = open_store(url), open_store(url), open_store(url)
    host = AgentHost("lab", ["h1"], BrokerAddress(port=1), writer)  # ingest, no broker needed
    clock = Clock(start=DAY0 + timedelta(hours=12), speed=1.0)
    ctx = WebContext.create(reader, clock, HOUSES, cache_store=live)  # as services.web
    client = TestClient(create_app(ctx))
    sent = 0
    stop = threading.Event()

    def ingest() -> None:  # a reading every 10 ms, flushed in batches of about 5
        nonlocal sent
        while not stop.is_set():
            host.handle(TOPIC, _reading(sent))
            sent += 1
            if sent % 5 == 0:
                host.flush()
            time.sleep(0.01)

    worker = threading.Thread(target=ingest)
    worker.start()
    try:
        _wait(lambda: writer.count() >= 50, 30)
        assert client.get("/readyz").status_code == 200
        postgres_restartable.stop(mode)

        r = client.get("/api/houses/h1/history", params={"date": str(DAY0.date())})
        assert r.status_code == 503 and "PostgreSQL is unreachable" in r.json()["detail"]
        assert r.headers["retry-after"]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        deps = ready.json()["dependencies"]
        assert deps["store"]["ok"] is False and "PostgreSQL" in deps["store"]["detail"]
        ctx.cache.refresh()  # the live view fails over to "down", not a stale 200
        assert client.get("/api/overview").status_code == 503
        assert client.get("/healthz").status_code == 200
        with pytest.raises(StoreUnavailable):
            reader.count()
        _wait(lambda: host.write_errors > 0, 10)  # ingest is failing and keeping its batch

        postgres_restartable.start()
        _wait(lambda: client.get("/readyz").status_code == 200, BACK_WITHIN_S)
        r = client.get("/api/houses/h1/history", params={"date": str(DAY0.date())})
        assert r.status_code == 200

        def live_back() -> bool:  # its own connection reconnects after its own backoff
            ctx.cache.refresh()
            return bool(client.get("/api/overview").status_code == 200)

        _wait(live_back, BACK_WITHIN_S)
        _wait(lambda: host.write_errors > 0 and writer.unavailable() is None, BACK_WITHIN_S)
    finally:
        stop.set()
        worker.join()
    _wait(lambda: host.flush() == 0 and not host._backlog, BACK_WITHIN_S)
    assert writer.count() == sent  # nothing lost, nothing doubled (idempotent key)
    minutes = reader.history("h1", "pv", DAY0, DAY0 + timedelta(days=1), Resolution.MIN1)
    assert sum(b.n for b in minutes) == sent  # the aggregates were not double counted
    writer.close()
    live.close()
    said = [r.getMessage() for r in caplog.records if r.name == "gridpeer.hems.host"]
    # the outage is logged once when it starts and once when it ends, not on every retry
    assert sum("holding readings unacknowledged" in m for m in said) == 1, said
    assert sum("the store is back" in m for m in said) == 1, said
    reader.close()
