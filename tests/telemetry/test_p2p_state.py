"""Each house's P2P totals: pure sums over settled trades, and retained states on a real
Mosquitto that Home Assistant's P2P sensors read."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.core.mqtt import MqttClient
from gridpeer.telemetry.adapters.homeassistant import discovery_configs
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.p2p_state import (
    P2PState,
    P2PStatePublisher,
    SettledTrade,
    p2p_topic,
    p2p_totals,
)
from gridpeer.telemetry.schemas import Device

NOW = datetime(2026, 6, 1, 18, tzinfo=UTC)
PRICE = 150 * 10**12  # wei per kWh (150 CLP/kWh at 10^12 wei per CLP)


def test_totals_follow_the_contracts_payments() -> None:
    trades = [
        SettledTrade("h1", "h2", 250, PRICE),
        SettledTrade("h1", "h3", 100, PRICE),
        SettledTrade("h3", "h2", 7, 10**15 + 1),
    ]
    got = p2p_totals(trades, ["h1", "h2", "h3", "h4"])
    pay = [250 * PRICE // 1000, 100 * PRICE // 1000, 7 * (10**15 + 1) // 1000]
    assert got["h1"] == (0, 350, pay[0] + pay[1])
    assert got["h2"] == (257, 0, -pay[0] - pay[2])
    assert got["h3"] == (100, 7, pay[2] - pay[1])
    assert got["h4"] == (0, 0, 0)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["a", "b", "c"]),
            st.integers(0, 10**6),
            st.integers(0, 10**18),
        )
    )
)
def test_energy_and_money_balance_across_the_community(
    rows: list[tuple[str, str, int, int]],
) -> None:
    trades = [SettledTrade(s, b, wh, p) for s, b, wh, p in rows if s != b]
    got = p2p_totals(trades, ["a", "b", "c"])
    assert sum(v[0] for v in got.values()) == sum(v[1] for v in got.values())  # bought = sold
    assert sum(v[2] for v in got.values()) == 0  # what buyers paid, sellers earned


def test_p2p_discovery_configs() -> None:
    configs = {
        t.rsplit("/", 2)[-2]: json.loads(c)
        for t, c in discovery_configs("villa", "h2", [Device.METER], p2p_currency="CLP").items()
    }
    assert configs["p2p_bought"]["state_topic"] == "gridpeer/villa/h2/p2p/state"
    for oid in ("p2p_bought", "p2p_sold"):
        c = configs[oid]
        assert (c["device_class"], c["state_class"], c["unit_of_measurement"]) == (
            "energy",
            "total_increasing",
            "Wh",
        )
    bal = configs["p2p_balance"]
    assert (bal["device_class"], bal["state_class"], bal["unit_of_measurement"]) == (
        "monetary",
        "total",
        "CLP",
    )
    assert bal["value_template"] == "{{ value_json.balance }}"
    assert "p2p_bought" not in {
        t.rsplit("/", 2)[-2] for t in discovery_configs("villa", "h2", [Device.METER])
    }


@pytest.mark.mosquitto
def test_states_are_published_retained_when_they_change(mosquitto: MosquittoBroker) -> None:
    pub = P2PStatePublisher(
        mosquitto.address.host, mosquitto.address.port, "villa", ["h1", "h2"], "CLP", 10**12
    )
    got: dict[str, list[P2PState]] = {}
    lock = threading.Lock()

    def on(topic: str, payload: bytes) -> None:
        with lock:
            got.setdefault(topic, []).append(P2PState.model_validate_json(payload))

    late = MqttClient(
        "ha-stand-in",
        mosquitto.address,
        subscriptions=["gridpeer/villa/+/p2p/state"],
        on_message=on,
        clean_session=True,
    )
    pub.start()
    try:
        trades = [SettledTrade("h1", "h2", 250, PRICE)]
        assert pub.update(trades, NOW) == 2
        assert pub.update(trades, NOW) == 0  # unchanged: not sent again
        late.start()  # subscribes after the publication: the retained state arrives
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        h1, h2 = got[p2p_topic("villa", "h1")][-1], got[p2p_topic("villa", "h2")][-1]
        assert (h1.sold_wh, h1.bought_wh, h1.balance) == (250, 0, 37.5)  # 250 Wh at 150/kWh
        assert (h2.sold_wh, h2.bought_wh, h2.balance, h2.currency) == (0, 250, -37.5, "CLP")
        assert pub.update([*trades, SettledTrade("h2", "h1", 10, PRICE)], NOW) == 2
    finally:
        late.stop()
        pub.stop()
