"""``GET /metrics`` of ``gridpeer serve`` on real parts (Mosquitto with accounts over TLS,
anvil with a deployed market, the oracle): the values move with what happens — readings in and
rejected by reason, a trade's delivery state, the chain head and the oracle's lag."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gridpeer.chain import Schedule, open_chain
from gridpeer.core.mqtt import MqttClient
from gridpeer.telemetry.broker import ListenerTls, MosquittoBroker
from gridpeer.telemetry.broker_tls import ensure_ca, server_names, write_server_cert
from tests.runtime.test_serve import (
    SENSOR_PW,
    SERVICE_PW,
    _config,
    _start_serve,
    _url,
    fresh_anvil,  # noqa: F401 (a fixture)
)
from tests.services.ports import free_port

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(base: str) -> Samples:
    r = httpx.get(base + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def _until(base: str, ok: Callable[[Samples], bool], timeout_s: float = 30) -> Samples:
    deadline = time.monotonic() + timeout_s
    samples = _scrape(base)
    while not ok(samples) and time.monotonic() < deadline:
        time.sleep(0.3)
        samples = _scrape(base)
    return samples


def _reading(ts: datetime) -> str:
    return json.dumps(
        {"ts": ts.isoformat(), "v": 230.0, "i": 1.0, "p": 230.0, "e_wh": 10, "p_grid": 230.0}
    )


def test_metrics_follow_readings_deliveries_and_the_chain(
    tmp_path: Path,
    fresh_anvil: str,  # noqa: F811
) -> None:
    from gridpeer.chain.accounts import dev_account

    ca = ensure_ca(tmp_path, "villa")  # over TLS: the ingest and the oracle verify it
    cert, key = write_server_cert(tmp_path, ca, server_names("127.0.0.1", []))
    broker = MosquittoBroker(
        free_port(),
        tmp_path / "mq",
        passwords={"services": SERVICE_PW, "h1": SENSOR_PW, "h2": SENSOR_PW},
        tls=ListenerTls(tmp_path / "ca.crt", cert, key),
    )
    broker.start()
    chain = open_chain(fresh_anvil)
    market = chain.deploy_market()
    market.set_schedule(chain.admin, Schedule("open"))
    seller, buyer = chain.houses(2, market)
    cfg = _config(tmp_path, broker.port, fresh_anvil, market.address, 0)
    text = cfg.read_text().replace(
        'contract_address = "',
        f'operator_key = "{dev_account("oracle").key.hex()}"\ncontract_address = "',
    )
    text = text.replace("[mqtt]\n", f'[mqtt]\ntls = true\nca_file = "{tmp_path / "ca.crt"}"\n')
    text = text.replace('id = "h1"', f'id = "h1"\naddress = "{seller.address}"')
    text = text.replace('id = "h2"', f'id = "h2"\naddress = "{buyer.address}"')
    cfg.write_text(text)
    proc, lines = _start_serve(cfg)
    base = _url(lines)
    try:
        before = _scrape(base)
        stored = ("gridpeer_readings_stored_total", ())
        implausible = ("gridpeer_readings_rejected_total", (("reason", "implausible_time"),))
        commanded = ("gridpeer_deliveries", (("state", "commanded"),))
        head = ("gridpeer_chain_head_block", ())
        assert before[stored] == 0 and before[implausible] == 0
        assert before[commanded] == 0 and before[("gridpeer_tx_pending", ())] == 0
        assert before[("gridpeer_mqtt_connected", ())] == 1
        assert ("gridpeer_oracle_lag_blocks", ()) in before

        topic = "gridpeer/villa/h1/meter/reading"
        h1 = MqttClient("h1-node", broker.address.as_user("h1", SENSOR_PW), clean_session=True)
        h1.start()
        for ts in (datetime.now(UTC), datetime(9999, 12, 31, tzinfo=UTC)):
            assert h1.publish(topic, _reading(ts))
        assert h1.publish(topic, _reading(datetime.now(UTC) - timedelta(days=400)))
        h1.stop()
        after = _until(base, lambda s: s[stored] >= 1 and s[implausible] >= 2)
        assert after[stored] == 1 and after[implausible] == 2
        assert after[("gridpeer_readings_received_total", ())] == 3

        start = market.now() + 15
        oid = market.post_offer(seller, 400, 150 * 10**12, start, start + 10)
        market.buy(buyer, oid, 300)
        traded = _until(base, lambda s: s[commanded] >= 1 and s[head] >= before[head] + 2)
        assert traded[commanded] == 1  # the oracle sent both houses their commands
        assert traded[head] >= before[head] + 2  # the offer and the purchase were mined
        assert traded[("gridpeer_oracle_lag_blocks", ())] >= 0
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
        broker.stop()
    assert rc == 0


def test_demo_web_process_relays_the_demo_s_metrics() -> None:
    """The demo's web app runs in a process of its own; its ``/metrics`` relays the demo
    process's (readings of the simulated houses, the oracle's deliveries) next to its own
    chain head."""
    from tests.web.demoproc import start_demo

    demo = start_demo("--speed", "60", "--start-hour", "14.6", "--no-agents")
    try:
        stored = ("gridpeer_readings_stored_total", ())
        first = _until(demo.url, lambda s: s.get(stored, 0) > 0)
        assert first[stored] > 0
        assert ("gridpeer_deliveries", (("state", "commanded"),)) in first  # the oracle's
        assert ("gridpeer_chain_head_block", ()) in first  # the web process's indexer
        later = _until(demo.url, lambda s: s[stored] > first[stored])
        assert later[stored] > first[stored]  # the houses keep reporting
        names = [
            line.split()[2]
            for line in httpx.get(demo.url + "/metrics").text.splitlines()
            if line.startswith("# TYPE ")
        ]
        assert len(names) == len(set(names))  # each family once
    finally:
        assert demo.stop() == 0, "".join(demo.lines)
