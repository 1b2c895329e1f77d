"""The Pico W node's pure logic, run under CPython (the same files run on MicroPython)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "firmware"))

from gridpeer_node import mqtt, sensors, timeutil
from gridpeer_node.hal import SimHAL
from gridpeer_node.node import DONE, Node

from gridpeer.telemetry.delivery import DeliveryResult
from gridpeer.telemetry.schemas import BESSReading, MeterReading, PVReading


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_parse_ts_matches_cpython(dt: datetime) -> None:
    aware = dt.replace(tzinfo=UTC)
    assert timeutil.parse_ts(aware.isoformat()) == pytest.approx(aware.timestamp(), abs=1e-6)
    assert timeutil.parse_ts(aware.isoformat().replace("+00:00", "Z")) == pytest.approx(
        aware.timestamp(), abs=1e-6
    )


def test_parse_ts_offsets_and_errors() -> None:
    assert (
        timeutil.parse_ts("2026-01-01T12:00:00-03:00")
        == datetime(2026, 1, 1, 15, tzinfo=UTC).timestamp()
    )
    with pytest.raises(ValueError):
        timeutil.parse_ts("yesterday")
    with pytest.raises(ValueError):
        timeutil.parse_ts("2026-01-01T12:00:00+0300")


def test_adc_conversions() -> None:
    assert sensors.adc_volts(65535) == pytest.approx(3.3)
    # ACS712 at its zero-current pin voltage reads 0 A; 185 mV above reads 1 A.
    zero = round(1.65 / 3.3 * 65535)
    assert sensors.linear(zero, 1 / 0.185, 1.65) == pytest.approx(0.0, abs=0.01)
    with pytest.raises(ValueError):
        sensors.adc_volts(70000)


def test_integrator_and_soc() -> None:
    integ = sensors.Integrator()
    for t in range(0, 3601, 60):
        integ.add(float(t), 100.0)
    assert integ.wh == pytest.approx(100.0)
    soc = sensors.SocEstimator(capacity_ah=10.0, soc=0.5)
    soc.update(0.0, 0.0)
    assert soc.update(3600.0, 2.0) == pytest.approx(0.3)  # 2 Ah out of 10 Ah


@given(st.integers(0, 268_435_455))
def test_mqtt_remaining_length_roundtrip(n: int) -> None:
    client = mqtt.Client("x")
    body = b"\x00" * min(n, 300)
    client._buf = bytes([0x30]) + mqtt._varint(len(body)) + body
    assert client._try_parse() == (0x30, body)
    assert len(mqtt._varint(n)) == (1 if n < 128 else 2 if n < 16384 else 3 if n < 2097152 else 4)


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.on_message = None

    def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> None:
        self.sent.append((topic, payload.encode()))

    def poll(self, timeout_s: float = 0.0) -> None:
        return None

    def ping_if_due(self) -> None:
        return None


def _node(tmp_path: Path, now: list[float]) -> tuple[Node, SimHAL, _Recorder]:
    hal = SimHAL({"meter": (229.5, 1.2), "pv": (23.4, 0.57), "bess": (12.6, -0.4)}, 10.0)
    client = _Recorder()
    cfg = {
        "community": "lab",
        "house": "h1",
        "devices": ("meter", "pv", "bess"),
        "battery_ah": 7.0,
        "state_file": str(tmp_path / "deliveries.json"),
    }
    return Node(cfg, hal, client, lambda: now[0]), hal, client


def test_readings_validate_against_the_telemetry_contract(tmp_path: Path) -> None:
    now = [1_790_000_000.0]
    node, _, client = _node(tmp_path, now)
    node.publish_readings(now[0])
    topics = [t for t, _ in client.sent]
    assert topics == [f"gridpeer/lab/h1/{d}/reading" for d in ("meter", "pv", "bess")]
    meter, pv, bess = (json.loads(p) for _, p in client.sent)
    assert MeterReading.model_validate(meter).p == pytest.approx(229.5 * 1.2, abs=0.01)
    assert PVReading.model_validate(pv).p == pytest.approx(13.34, abs=0.01)
    assert 0.0 <= BESSReading.model_validate(bess).soc <= 1.0


def test_delivery_executes_once_and_reports_metered_wh(tmp_path: Path) -> None:
    now = [1_000.0]
    node, hal, client = _node(tmp_path, now)
    cmd = json.dumps(
        {
            "trade_id": 7,
            "direction": "out",
            "target_wh": 5,
            "window_start": 1_060.0,
            "window_end": 1_060.0 + 3600,
        }
    ).encode()
    node.on_message("gridpeer/lab/h1/cmd/delivery", cmd)
    node.on_message("gridpeer/lab/h1/cmd/delivery", cmd)  # QoS 1 duplicate
    node.advance_deliveries(now[0])
    assert hal.switches == []  # window not open yet
    # 230 V x 10 A = 2.3 kW: 5 Wh take about 7.8 s.
    for t in range(1_060, 1_080):
        now[0] = float(t)
        node.advance_deliveries(now[0])
    assert hal.switches == [("out", True), ("out", False)]
    results = [json.loads(p) for t, p in client.sent if "/delivery/result/" in t]
    assert len(results) == 1
    result = DeliveryResult.model_validate(results[0])
    assert (result.trade_id, result.measured_wh, result.reason) == (7, 5, "target")
    # A reboot reloads the state file and does not execute the trade again.
    node2, hal2, _ = _node(tmp_path, now)
    node2.on_message("gridpeer/lab/h1/cmd/delivery", cmd)
    node2.advance_deliveries(now[0])
    assert hal2.switches == [] and node2.deliveries["7"]["state"] == DONE


def test_window_end_cuts_delivery_short_and_bad_commands_are_counted(tmp_path: Path) -> None:
    now = [0.0]
    node, hal, client = _node(tmp_path, now)
    hal.p2p_amps = 0.1  # 23 W: far too little for 100 Wh in 60 s
    node.on_message(
        "gridpeer/lab/h1/cmd/delivery",
        json.dumps(
            {
                "trade_id": 1,
                "direction": "in",
                "target_wh": 100,
                "window_start": 0,
                "window_end": 60,
            }
        ).encode(),
    )
    for bad in (
        b"{",
        b'{"trade_id": 2}',
        b'{"trade_id": 3, "direction": "up", "target_wh": 1, "window_end": 9}',
    ):
        node.on_message("gridpeer/lab/h1/cmd/delivery", bad)
    assert node.rejected == 3
    for t in range(0, 61, 5):
        now[0] = float(t)
        node.advance_deliveries(now[0])
    result = DeliveryResult.model_validate_json(client.sent[-1][1])
    assert hal.switches == [("in", True), ("in", False)]
    assert result.measured_wh == 0  # 23 W for 60 s = 0.38 Wh, floored
    assert result.reason == "window_end"
