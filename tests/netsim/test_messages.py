"""Message sizes: the thesis's table and gridpeer's MQTT-over-TCP framing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.netsim.messages import (
    THESIS_AGENT_AGGREGATE,
    THESIS_HAN,
    THESIS_MARKET_CENTRALIZED,
    THESIS_MARKET_DECENTRALIZED,
    MqttExchange,
    gridpeer_exchanges,
    mqtt_publish_b,
    reading_topic,
    sample_readings,
    udp_equivalent_b,
)
from gridpeer.telemetry.schemas import READING_TYPES, Device


def test_thesis_table_sizes_and_rates() -> None:
    sizes = {m.name: (m.size_b, m.rate_bps) for m in THESIS_HAN}
    assert sizes == {
        "meter": (40, 40.0),
        "pv": (40, 40.0),
        "bess": (32, 32.0),
        "appliances": (244, 244.0),
    }
    assert (THESIS_AGENT_AGGREGATE.size_b, THESIS_AGENT_AGGREGATE.rate_bps) == (324, 162.0)
    assert THESIS_MARKET_DECENTRALIZED.size_b == 52
    assert THESIS_MARKET_DECENTRALIZED.rate_bps == pytest.approx(416.0)
    assert THESIS_MARKET_CENTRALIZED.size_b == 116
    assert THESIS_MARKET_CENTRALIZED.rate_bps == pytest.approx(928.0)


def test_mqtt_publish_size_by_hand() -> None:
    # topic "a/b" (3 B), 10 B payload, QoS 1: 1 + 1 (remaining 17) + 2 + 3 + 2 + 10
    assert mqtt_publish_b("a/b", 10) == 19
    assert mqtt_publish_b("a/b", 10, qos=0) == 17
    # remaining length 128 needs two bytes: 2 + 3 + 2 + 121 = 128
    assert mqtt_publish_b("a/b", 121) == 1 + 2 + 128


@given(st.text(min_size=1, max_size=60), st.integers(0, 100_000))
def test_publish_size_grows_with_payload(topic: str, payload: int) -> None:
    n = mqtt_publish_b(topic, payload)
    assert n >= len(topic.encode()) + payload + 6
    assert mqtt_publish_b(topic, payload + 1) > n


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="qos"):
        mqtt_publish_b("t", 1, qos=3)
    with pytest.raises(ValueError):
        udp_equivalent_b(-1)


def test_udp_equivalent_matches_tcp_on_wire() -> None:
    # UDP header + payload == TCP header (32 B with timestamps) + MQTT bytes
    assert udp_equivalent_b(100) + 8 == 32 + 100


def test_gridpeer_readings_are_real_schema_payloads() -> None:
    payloads = sample_readings()
    assert set(payloads) == {"meter", "pv", "bess"}
    for dev, body in payloads.items():
        model = READING_TYPES[Device(dev)].model_validate_json(body)
        assert model.model_dump_json().encode() == body
        assert json.loads(body)["device"] == dev


def test_gridpeer_exchange_sizes() -> None:
    ex = gridpeer_exchanges()
    meter = ex["meter"]
    body = sample_readings()["meter"]
    topic = reading_topic("meter")
    assert topic == "gridpeer/valparaiso/house-1/meter/reading"
    assert meter.payload_b == len(body)
    assert meter.publish_b == mqtt_publish_b(topic, len(body)) + 24
    assert (meter.puback_b, meter.ack_b) == (4 + 24, 24)
    # JSON + MQTT + TCP make gridpeer's messages several times the thesis's 40 B
    assert meter.publish_b > 4 * 40
    assert ex["market-centralized"].publish_b > ex["market-decentralized"].publish_b
    assert MqttExchange.of("x", "t", b"").publish_b == udp_equivalent_b(mqtt_publish_b("t", 0))
