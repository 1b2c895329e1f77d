"""``/healthz``, ``/readyz`` and 503s while a dependency is down (a real anvil stopped)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from fastapi.testclient import TestClient

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.hub import ChainHub
from gridpeer.core.clock import Clock
from gridpeer.store.factory import open_store
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from tests.web.conftest import HOUSES


def test_healthz_and_readyz_with_injected_checks(ctx: WebContext) -> None:
    broker_up = True

    def broker() -> None:
        if not broker_up:
            raise ConnectionError("MQTT broker 127.0.0.1:1883 refused the connection")

    ctx.checks["broker"] = broker
    client = TestClient(create_app(ctx))
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {
        "ready": True,
        "dependencies": {
            "store": {"ok": True, "detail": None},
            "broker": {"ok": True, "detail": None},
        },
    }
    broker_up = False
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["ready"] is False
    assert r.json()["dependencies"]["broker"] == {
        "ok": False,
        "detail": "MQTT broker 127.0.0.1:1883 refused the connection",
    }
    assert client.get("/healthz").status_code == 200


def test_chain_down_is_503_with_the_reason() -> None:
    node = AnvilNode()
    node.start()
    try:
        chain = open_chain(node.url)
        market = chain.deploy_market()
        market.set_schedule(chain.admin, Schedule("windows", tz_minutes=-240))
        day = datetime.now(UTC).date() + timedelta(days=1)
        clock = Clock(start=datetime.combine(day, time(15), tzinfo=UTC), speed=1.0)
        hub = ChainHub(market, clock, follow_clock=False)
        ctx = WebContext.create(open_store("sqlite:///:memory:"), clock, HOUSES, community="lab")
        ctx.chain = hub
        client = TestClient(create_app(ctx))
        assert client.get("/api/market/status").status_code == 200
        assert client.get("/readyz").json()["dependencies"]["chain"]["ok"] is True
    finally:
        node.stop()
    r = client.get("/api/market/status")
    assert r.status_code == 503, r.text
    assert r.json() == {"detail": "the Ethereum node is unreachable (ConnectionError)"}
    assert r.headers["retry-after"] == "2"
    r = client.get("/readyz")
    assert r.status_code == 503
    chain_state = r.json()["dependencies"]["chain"]
    assert chain_state["ok"] is False and "Connection refused" in chain_state["detail"]
    hub.close()
