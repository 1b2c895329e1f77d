"""Message sizes and rates: the thesis's nominal table and gridpeer's real MQTT traffic.

Thesis (tables 4.1-4.7), application bytes per message:

* smart meter 40 B/s (V, I, P as 8 B each + 16 B timestamp), PV monitoring 40 B/s,
  BESS monitoring 32 B/s (V, I, timestamp), home appliances 244 B/s;
* the home agent's aggregate 324 B (= meter 40 + PV 40 + appliances 244), sent
  upstream every 2 s (162 B/s);
* a decentralized market message 52 B (peer id 6, role 6, energy 8, price 8,
  timestamp 16, offer id 8), a centralized one 116 B (market 52 + meter 24 +
  generation 32 + BESS 8); each prosumer offers 416 B/s resp. 928 B/s, i.e. 8
  messages per second.

gridpeer (``Traffic.GRIDPEER``) keeps those rates and replaces each message by what
gridpeer really sends: an MQTT 3.1.1 PUBLISH at QoS 1 whose payload is the reading
serialised by :mod:`gridpeer.telemetry.schemas` (``model_dump_json``) on the topic
``gridpeer/<community>/<house>/<device>/reading``, answered by a PUBACK, over TCP/IP.
ns-3 carries every message as one UDP datagram; to put the same bytes on the air we
size the datagram so that UDP (8 B) + payload equals the TCP segment (32 B header:
20 B + 12 B timestamp option, as Linux sends) + MQTT bytes. Each publish therefore
becomes three packets: PUBLISH (sender → broker), PUBACK (broker → sender, carrying
the TCP ACK), and the sender's pure TCP ACK of the PUBACK (delayed ACKs time out long
before the next publish). TCP retransmission and congestion control are not modelled.

Sizes in bytes (B), intervals in seconds (s).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from gridpeer.telemetry.schemas import TOPIC_ROOT, BESSReading, MeterReading, PVReading


class Traffic(StrEnum):
    """Which message sizes a study uses."""

    THESIS = "thesis"
    GRIDPEER = "gridpeer"


@dataclass(frozen=True)
class Message:
    """One periodic message stream: ``size_b`` application bytes every ``interval_s``."""

    name: str
    size_b: int
    interval_s: float

    @property
    def rate_bps(self) -> float:
        """Offered application load, bytes per second."""
        return self.size_b / self.interval_s


# --- the thesis's nominal table -------------------------------------------------------

THESIS_HAN: tuple[Message, ...] = (
    Message("meter", 8 * 3 + 16, 1.0),
    Message("pv", 8 * 3 + 16, 1.0),
    Message("bess", 8 * 2 + 16, 1.0),
    Message("appliances", 244, 1.0),
)
THESIS_AGENT_AGGREGATE = Message("aggregate", 40 + 40 + 244, 2.0)
THESIS_MARKET_DECENTRALIZED = Message("market", 6 + 6 + 8 + 8 + 16 + 8, 52 / 416)
THESIS_MARKET_CENTRALIZED = Message("market", 52 + 24 + 32 + 8, 116 / 928)

# --- MQTT over TCP/IP framing ----------------------------------------------------------

TCP_HEADER_B = 32
"""TCP header with the timestamp option (20 + 12 B), as Linux sends it."""
UDP_HEADER_B = 8
"""UDP header, B."""
IP_HEADER_B = 20
"""IPv4 header without options, B."""
PUBACK_B = 4
"""MQTT PUBACK: fixed header (2 B) + packet identifier (2 B)."""


def _remaining_length_b(n: int) -> int:
    """Bytes of MQTT's variable-length 'remaining length' field for value ``n``."""
    if not 0 <= n <= 268_435_455:
        raise ValueError(f"MQTT remaining length out of range: {n}")
    size = 1
    while n > 127:
        n //= 128
        size += 1
    return size


def mqtt_publish_b(topic: str, payload_b: int, qos: int = 1) -> int:
    """Size of an MQTT 3.1.1 PUBLISH packet, B: fixed header + topic + packet id + payload."""
    if qos not in (0, 1, 2):
        raise ValueError(f"qos must be 0, 1 or 2, got {qos}")
    topic_b = len(topic.encode())
    if topic_b > 65_535:
        raise ValueError("MQTT topic longer than 65535 bytes")
    remaining = 2 + topic_b + (2 if qos else 0) + payload_b
    return 1 + _remaining_length_b(remaining) + remaining


def udp_equivalent_b(tcp_payload_b: int) -> int:
    """UDP payload whose datagram is as long on the wire as a TCP segment carrying
    ``tcp_payload_b`` bytes: ``tcp_payload_b + TCP_HEADER_B - UDP_HEADER_B``, B."""
    if tcp_payload_b < 0:
        raise ValueError("payload size must be >= 0")
    return tcp_payload_b + TCP_HEADER_B - UDP_HEADER_B


@dataclass(frozen=True)
class MqttExchange:
    """The three packets of one QoS 1 publish over TCP, as UDP payload sizes (B)."""

    name: str
    payload_b: int
    publish_b: int
    puback_b: int
    ack_b: int

    @classmethod
    def of(cls, name: str, topic: str, payload: bytes) -> MqttExchange:
        """Sizes for ``payload`` published on ``topic`` at QoS 1."""
        return cls(
            name,
            len(payload),
            udp_equivalent_b(mqtt_publish_b(topic, len(payload))),
            udp_equivalent_b(PUBACK_B),
            udp_equivalent_b(0),
        )


# --- gridpeer's real payloads ----------------------------------------------------------

SAMPLE_COMMUNITY = "valparaiso"
SAMPLE_HOUSE = "house-1"
_SAMPLE_TS = datetime(2025, 1, 15, 13, 0, 0, 250_000, tzinfo=UTC)


def reading_topic(device: str, community: str = SAMPLE_COMMUNITY, house: str = SAMPLE_HOUSE) -> str:
    """The telemetry topic ``gridpeer/<community>/<house>/<device>/reading``."""
    return f"{TOPIC_ROOT}/{community}/{house}/{device}/reading"


def sample_readings() -> dict[str, bytes]:
    """A typical reading of each device, serialised exactly as gridpeer publishes it.

    Values are representative of a house at midday (230 V mains, ~1.2 kW load, ~2.4 kW
    PV, battery charging at ~1 kW), with the decimals a real sensor reports.
    """
    meter = MeterReading(ts=_SAMPLE_TS, v=229.87, i=5.21, p=1197.6, e_wh=1_834_512, p_grid=-1203.4)
    pv = PVReading(ts=_SAMPLE_TS, v=341.25, i=7.04, p=2402.4)
    bess = BESSReading(ts=_SAMPLE_TS, v=51.36, i=-19.42, p=-997.4, soc=0.6375)
    return {
        "meter": meter.model_dump_json().encode(),
        "pv": pv.model_dump_json().encode(),
        "bess": bess.model_dump_json().encode(),
    }


def sample_order(centralized: bool) -> bytes:
    """A representative gridpeer market order body (JSON), as a peer would publish it.

    Fields follow the data contract: Wh and wei per kWh as integers, UTC window. A
    centralized/hybrid order also carries the peer's EIP-712 signature (65 B, hex).
    """
    order: dict[str, object] = {
        "order_id": "0x9f3c2a71d04e5b68",
        "house": SAMPLE_HOUSE,
        "side": "sell",
        "energy_wh": 1500,
        "price_wei_per_kwh": 120_000_000_000_000,
        "window_start": "2025-01-15T13:00:00Z",
        "window_end": "2025-01-15T14:00:00Z",
        "ts": "2025-01-15T12:41:07.250000Z",
    }
    if centralized:
        order["signature"] = "0x" + "ab" * 65
    return json.dumps(order, separators=(",", ":")).encode()


def gridpeer_exchanges() -> dict[str, MqttExchange]:
    """gridpeer's messages as MQTT exchanges: readings, and both kinds of market order."""
    out = {
        dev: MqttExchange.of(dev, reading_topic(dev), body)
        for dev, body in sample_readings().items()
    }
    market_topic = f"{TOPIC_ROOT}/{SAMPLE_COMMUNITY}/{SAMPLE_HOUSE}/market/order"
    out["market-decentralized"] = MqttExchange.of(
        "market-decentralized", market_topic, sample_order(False)
    )
    out["market-centralized"] = MqttExchange.of(
        "market-centralized", market_topic, sample_order(True)
    )
    return out
