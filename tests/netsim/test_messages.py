"""Message sizes: the thesis's table and gridpeer's MQTT-over-TCP framing."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.chain import order_wire
from gridpeer.chain.accounts import dev_account
from gridpeer.chain.codec import encode_call
from gridpeer.netsim.messages import (
    SAMPLE_CHAIN_ID,
    SAMPLE_CONTRACT,
    THESIS_AGENT_AGGREGATE,
    THESIS_HAN,
    THESIS_MARKET_CENTRALIZED,
    THESIS_MARKET_DECENTRALIZED,
    MqttExchange,
    gridpeer_exchanges,
    json_rpc_http,
    mqtt_publish_b,
    order_topic,
    reading_topic,
    sample_offer_tx,
    sample_readings,
    sample_signed_order,
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
    assert MqttExchange.of("x", "t", b"").publish_b == udp_equivalent_b(mqtt_publish_b("t", 0))


def test_centralized_order_is_a_real_signed_order_on_the_intake_topic() -> None:
    body = sample_signed_order()
    signed = order_wire.decode(body)
    dom = order_wire.domain(SAMPLE_CHAIN_ID, SAMPLE_CONTRACT)
    assert order_wire.recover(dom, signed) == dev_account("h1").address
    assert order_wire.encode(signed) == body
    assert (signed.terms.wh, signed.terms.sell) == (1500, True)
    ex = gridpeer_exchanges()["market-centralized"]
    assert order_topic() == "gridpeer/valparaiso/orders/house-1"
    assert ex.payload_b == len(body)
    assert ex.publish_b == udp_equivalent_b(mqtt_publish_b(order_topic(), len(body)))
    assert (ex.puback_b, ex.ack_b) == (4 + 24, 24)
    # the EIP-712 signature alone (65 B as 130 hex digits) is 2.5x the thesis's 52 B
    assert len(json.loads(body)["signature"]) == 132


def test_decentralized_order_is_the_raw_post_offer_transaction() -> None:
    raw = sample_offer_tx()
    assert Account.recover_transaction(raw) == dev_account("h1").address
    assert encode_call("postOffer", 1500, 120 * 10**12, 1_736_946_000, 1_736_949_600).hex() in (
        raw.hex()
    )
    ex = gridpeer_exchanges()["market-decentralized"]
    request = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction"}
    request["params"] = ["0x" + raw.hex()]
    body = json.dumps(request, separators=(",", ":")).encode()
    assert ex.payload_b == len(body)
    assert ex.publish_b == udp_equivalent_b(len(json_rpc_http(body)))
    assert json_rpc_http(body).startswith(b"POST / HTTP/1.1\r\n")
    # the reply carries the 32-byte transaction hash in hex
    assert ex.puback_b > udp_equivalent_b(66)
    assert ex.ack_b == 24
