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

Market orders are gridpeer's real serialised orders (docs/market.md, "Wire format"):

* centralized / hybrid: the signed order in the wire format (JSON ``{"order",
  "signature"}``, EIP-712) published at QoS 1 on the coordinator's intake topic
  ``gridpeer/<community>/orders/<house>``;
* decentralized: the house's raw signed ``postOffer`` transaction, sent to an Ethereum
  node with JSON-RPC ``eth_sendRawTransaction`` over HTTP/1.1 (minimal headers); its
  three packets are the request, the response carrying the transaction hash, and the
  client's TCP ACK.

Sizes in bytes (B), intervals in seconds (s).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from eth_utils.crypto import keccak

from gridpeer.chain import order_wire
from gridpeer.chain.accounts import dev_account
from gridpeer.chain.client import GAS
from gridpeer.chain.codec import encode_call
from gridpeer.chain.types import OrderTerms
from gridpeer.telemetry.order_topics import order_topic as intake_topic
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


SAMPLE_CHAIN_ID = 31337
"""Chain id of the sample orders (anvil's and the demo's)."""
SAMPLE_CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
"""Market contract of the sample orders: the first contract anvil's first account deploys."""
SAMPLE_NODE = "127.0.0.1:8545"
"""JSON-RPC node a house sends its decentralized order to (``Host`` header)."""
_WINDOW = (1_736_946_000, 1_736_949_600)  # 2025-01-15 13:00-14:00 UTC
_SAMPLE_WH, _SAMPLE_PRICE, _SAMPLE_NONCE = 1500, 120_000_000_000_000, 42


def sample_signed_order() -> bytes:
    """A centralized/hybrid order exactly as a house sends it to the coordinator: the wire
    format of :mod:`gridpeer.chain.order_wire` (JSON ``{"order", "signature"}``, signed
    with dev house ``h1``'s key; 1,500 Wh at 120 CLP/kWh for 13:00-14:00 UTC)."""
    terms = OrderTerms(
        dev_account("h1").address,
        True,
        _SAMPLE_WH,
        _SAMPLE_PRICE,
        *_WINDOW,
        _SAMPLE_NONCE,
        _WINDOW[0],
    )
    dom = order_wire.domain(SAMPLE_CHAIN_ID, SAMPLE_CONTRACT)
    return order_wire.encode(order_wire.sign(dev_account("h1"), dom, terms))


def sample_offer_tx() -> bytes:
    """A decentralized order exactly as a house sends it: the raw signed ``postOffer``
    transaction (legacy type, RLP) for the same offer as :func:`sample_signed_order`."""
    tx: dict[str, Any] = {
        "to": SAMPLE_CONTRACT,
        "data": encode_call("postOffer", _SAMPLE_WH, _SAMPLE_PRICE, *_WINDOW),
        "value": 0,
        "gas": GAS["postOffer"],
        "gasPrice": 10**9,
        "nonce": _SAMPLE_NONCE,
        "chainId": SAMPLE_CHAIN_ID,
    }
    return bytes(dev_account("h1").sign_transaction(tx).raw_transaction)


def json_rpc_http(body: bytes, response: bool = False) -> bytes:
    """``body`` in a minimal HTTP/1.1 JSON-RPC request (POST /) or response (200 OK)."""
    head = "HTTP/1.1 200 OK\r\n" if response else f"POST / HTTP/1.1\r\nHost: {SAMPLE_NODE}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def send_raw_transaction_exchange(name: str, raw_tx: bytes) -> MqttExchange:
    """``eth_sendRawTransaction`` of ``raw_tx`` over HTTP/1.1: the request, the response
    carrying the transaction hash, and the client's TCP ACK (B, as UDP payload sizes)."""
    request = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_sendRawTransaction",
            "params": ["0x" + raw_tx.hex()],
        },
        separators=(",", ":"),
    ).encode()
    reply = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "result": "0x" + keccak(raw_tx).hex()}, separators=(",", ":")
    ).encode()
    return MqttExchange(
        name,
        len(request),
        udp_equivalent_b(len(json_rpc_http(request))),
        udp_equivalent_b(len(json_rpc_http(reply, response=True))),
        udp_equivalent_b(0),
    )


def order_topic(community: str = SAMPLE_COMMUNITY, house: str = SAMPLE_HOUSE) -> str:
    """The coordinator's intake topic of a house's signed orders."""
    return intake_topic(community, house)


def gridpeer_exchanges() -> dict[str, MqttExchange]:
    """gridpeer's messages as three-packet exchanges: readings (MQTT), a decentralized order
    (``eth_sendRawTransaction`` over HTTP) and a centralized/hybrid signed order (MQTT to
    the coordinator)."""
    out = {
        dev: MqttExchange.of(dev, reading_topic(dev), body)
        for dev, body in sample_readings().items()
    }
    out["market-decentralized"] = send_raw_transaction_exchange(
        "market-decentralized", sample_offer_tx()
    )
    out["market-centralized"] = MqttExchange.of(
        "market-centralized", order_topic(), sample_signed_order()
    )
    return out
