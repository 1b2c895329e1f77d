"""The Pico W node's pure logic, run under CPython (the same files run on MicroPython)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "firmware"))

from gridpeer_node import mqtt, sensors, split, timeutil
from gridpeer_node.deliveries import DONE
from gridpeer_node.hal import SimHAL, check_channels
from gridpeer_node.node import Node

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
    """A stand-in MQTT client: records publications, fails while ``up`` is False."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bool]] = []
        self.on_message: Callable[[str, bytes], None] | None = None
        self.up = True

    def _check(self) -> None:
        if not self.up:
            raise OSError("broker unreachable")

    def connect(self) -> bool:
        self._check()
        return False

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self._check()

    def publish(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False) -> None:
        self._check()
        self.sent.append((topic, payload.encode() if isinstance(payload, str) else payload, retain))

    def poll(self, timeout_s: float = 0.0) -> None:
        self._check()

    def ping_if_due(self) -> None:
        return None

    def close(self) -> None:
        return None

    def results(self) -> list[DeliveryResult]:
        return [
            DeliveryResult.model_validate_json(p) for t, p, _ in self.sent if "/result/" in t and p
        ]


def _node(
    tmp_path: Path, now: list[float], wall: list[float] | None = None, **extra: object
) -> tuple[Node, SimHAL, _Recorder]:
    hal = SimHAL({"meter": (229.5, 1.2), "pv": (23.4, 0.57), "bess": (12.6, -0.4)}, 10.0)
    client = _Recorder()
    cfg = {
        "community": "lab",
        "house": "h1",
        "devices": ("meter", "pv", "bess"),
        "battery_ah": 7.0,
        "state_dir": str(tmp_path / "deliveries"),
        "republish_s": 60.0,
        **extra,
    }
    clock = wall or [0.0]
    return Node(cfg, hal, client, lambda: now[0], lambda: clock[0]), hal, client


def _cmd(trade: int, direction: str, wh: int, start: float | str, end: float | str) -> bytes:
    return json.dumps(
        {
            "v": 1,
            "trade_id": trade,
            "house": "h1",
            "direction": direction,
            "target_wh": wh,
            "window_start": start,
            "window_end": end,
        }
    ).encode()


CMD = "gridpeer/lab/h1/cmd/delivery"


def test_readings_validate_against_the_telemetry_contract(tmp_path: Path) -> None:
    now = [1_790_000_000.0]
    node, _, _ = _node(tmp_path, now)
    node.queue_readings(now[0])
    queued = []
    while (item := node.outbox.peek()) is not None:
        queued.append(item)
        node.outbox.pop()
    assert [t for t, _ in queued] == [
        f"gridpeer/lab/h1/{d}/reading" for d in ("meter", "pv", "bess")
    ]
    meter, pv, bess = (json.loads(p) for _, p in queued)
    assert MeterReading.model_validate(meter).p == pytest.approx(229.5 * 1.2, abs=0.01)
    assert PVReading.model_validate(pv).p == pytest.approx(13.34, abs=0.01)
    assert 0.0 <= BESSReading.model_validate(bess).soc <= 1.0


def test_delivery_executes_once_and_reports_metered_wh(tmp_path: Path) -> None:
    now = [1_000.0]
    node, hal, client = _node(tmp_path, now)
    cmd = _cmd(7, "out", 5, 1_060.0, 1_060.0 + 3600)
    node.on_message(CMD, cmd)
    node.on_message(CMD, cmd)  # QoS 1 duplicate
    node.step(0)
    assert hal.switches == []  # window not open yet
    # 230 V x 10 A = 2.3 kW: 5 Wh take about 7.8 s.
    for t in range(1_060, 1_080):
        now[0] = float(t)
        node.step(0)
    assert hal.switches == [("out", True), ("out", False)]
    results = client.results()
    assert len(results) == 1  # published once (not yet due again)
    assert [r for t, _, r in client.sent if "/result/" in t] == [True]  # retained
    assert (results[0].trade_id, results[0].measured_wh, results[0].reason) == (7, 5, "target")
    # A reboot reloads the records and does not execute the trade again.
    node2, hal2, _ = _node(tmp_path, now)
    node2.on_message(CMD, cmd)
    node2.deliveries.advance(now[0], hal2)
    assert hal2.switches == [] and node2.deliveries.trades["7"]["state"] == DONE


def test_window_end_cuts_delivery_short_and_bad_commands_are_counted(tmp_path: Path) -> None:
    now = [0.0]
    node, hal, client = _node(tmp_path, now)
    hal.p2p_amps = 0.1  # 23 W: far too little for 100 Wh in 60 s
    node.on_message(CMD, _cmd(1, "in", 100, 0, 60))
    for bad in (
        b"{",
        b'{"trade_id": 2}',
        b'{"trade_id": 3, "direction": "up", "target_wh": 1, "window_end": 9}',
        _cmd(4, "in", 1, 0, 60).replace(b'"h1"', b'"h2"'),  # another house's command
    ):
        node.on_message(CMD, bad)
    assert node.rejected == 4
    for t in range(0, 61, 5):
        now[0] = float(t)
        node.step(0)
    (result,) = client.results()
    assert hal.switches == [("in", True), ("in", False)]
    assert result.measured_wh == 0  # 23 W for 60 s = 0.38 Wh, floored
    assert result.reason == "window_end"


def test_two_deliveries_in_a_row_on_one_relay(tmp_path: Path) -> None:
    """Trades of consecutive windows on the OUT relay: the relay closes for each in turn
    and each result holds the energy metered in its own window."""
    now = [0.0]
    node, hal, client = _node(tmp_path, now)
    node.on_message(CMD, _cmd(2, "out", 5, 100, 3600))
    node.on_message(CMD, _cmd(1, "out", 5, 0, 100))
    for t in range(0, 200):  # 2.3 kW: 5 Wh in about 8 s
        now[0] = float(t)
        node.step(0)
    assert hal.switches == [("out", True), ("out", False)] * 2
    r1, r2 = sorted(client.results(), key=lambda r: r.trade_id)
    assert (r1.measured_wh, r1.reason, r2.measured_wh, r2.reason) == (5, "target", 5, "target")
    assert r1.opened_at <= r2.closed_at  # type: ignore[operator]


def test_trades_of_one_window_share_the_relay_pro_rata(tmp_path: Path) -> None:
    """Two sales in one window share the OUT relay (docs/delivery.md's rule): the metered
    energy is split 1:3 as their contracts, rounded as a group to the whole Wh metered. A
    purchase in the same window on the shared P2P meter counts only imported power, so
    nothing is counted twice."""
    now = [0.0]
    node, hal, client = _node(tmp_path, now, devices=())
    hal.p2p_amps = 0.1  # 23 W: 23 Wh in the hour, far below the 40 Wh sold
    for cmd in (
        _cmd(9, "out", 10, 0, 3600),
        _cmd(3, "out", 30, 0, 3600),
        _cmd(11, "in", 4, 0, 3600),
    ):
        node.on_message(CMD, cmd)
    for t in range(0, 3601):
        now[0] = float(t)
        node.step(0)
    assert hal.switches == [("out", True), ("in", True), ("out", False), ("in", False)]
    results = {r.trade_id: r for r in client.results()}
    metered = 23.0 * 3599 / 3600  # the first second after closing is not metered
    assert results[3].measured_wh + results[9].measured_wh == int(metered)
    assert abs(results[3].measured_wh - metered * 30 / 40) < 1
    assert abs(results[9].measured_wh - metered * 10 / 40) < 1
    assert results[11].measured_wh == 0  # the line exported all the time
    assert {r.reason for r in results.values()} == {"window_end"}


def test_split_rule_matches_the_home_agent() -> None:
    """The firmware's copy of the split rule gives the same Wh as the examples of
    tests/market/test_delivery_split.py."""

    def split_wh(metered: int, contracted: list[int]) -> list[int]:
        parts = split.share_energy(float(metered), contracted, [0.0] * len(contracted))
        out: list[int] = split.round_group(parts, list(range(len(contracted))))
        return out

    assert split_wh(300, [200, 100]) == [200, 100]
    assert split_wh(150, [200, 100]) == [100, 50]
    assert split_wh(100, [1, 1, 1]) == [1, 1, 1]
    assert split_wh(2, [1, 1, 1]) == [1, 1, 0]  # remainder to the lowest id on ties
    assert split_wh(0, [5, 5]) == [0, 0]


@given(st.integers(0, 50_000), st.lists(st.integers(1, 5_000), min_size=1, max_size=8))
def test_split_sums_to_the_metered_wh_pro_rata(metered: int, contracted: list[int]) -> None:
    parts = split.round_group(
        split.share_energy(float(metered), contracted, [0.0] * len(contracted)),
        list(range(len(contracted))),
    )
    assert sum(parts) == min(metered, sum(contracted))
    share = min(metered, sum(contracted)) / sum(contracted)
    assert all(
        0 <= p <= c and abs(p - c * share) < 1 for p, c in zip(parts, contracted, strict=True)
    )


def test_result_republished_until_acknowledged_then_pruned(tmp_path: Path) -> None:
    now, wall = [0.0], [0.0]
    node, hal, client = _node(tmp_path, now, wall)
    node.on_message(CMD, _cmd(42, "out", 5, 0, 3600))
    client.up = False  # Wi-Fi drops as the delivery ends
    for t in range(0, 30):
        now[0] = wall[0] = float(t)
        node.step(0)
    assert hal.switches == [("out", True), ("out", False)] and client.results() == []
    client.up = True
    for t in range(30, 200):  # reconnects after reconnect_s, publishes, then every 60 s
        now[0] = wall[0] = float(t)
        node.step(0)
    assert len(client.results()) == 3  # ~t=30, 90, 150
    node.on_message(CMD, _cmd(42, "out", 5, 0, 3600))  # the oracle asks again
    node.step(0)
    assert len(client.results()) == 4 and hal.switches == [("out", True), ("out", False)]
    topic = "gridpeer/lab/h1/delivery/result/42"
    node.on_message(topic, node.deliveries.result("42") and json.dumps({}).encode())  # not an ack
    assert "42" in node.deliveries.trades
    node.on_message(topic, b"")  # the oracle cleared the retained result
    assert node.deliveries.trades == {} and node.deliveries.pruned == ["42"]
    node.step(0)
    assert (topic, b"", True) in client.sent  # the node clears any copy it re-set
    for t in range(200, 400):
        now[0] = wall[0] = float(t)
        node.step(0)
    assert len(client.results()) == 4  # no more after the ack
    node.on_message(CMD, _cmd(42, "out", 5, 0, 3600))  # the oracle's late resend
    assert node.deliveries.trades == {} and node.deliveries.duplicates == 2
    assert not (tmp_path / "deliveries" / "42.json").exists()
    # After a reboot the pruned id is still known.
    node2, _, _ = _node(tmp_path, now, wall)
    node2.on_message(CMD, _cmd(42, "out", 5, 0, 3600))
    assert node2.deliveries.trades == {}


def test_flash_written_per_small_record_and_rarely(tmp_path: Path) -> None:
    """A one-hour delivery metered every second writes its record at start, at most every
    checkpoint_s (30 s) while metering, and at the end; a reboot mid-way resumes from the
    last checkpoint without the downtime."""
    now = [0.0]
    node, hal, _ = _node(tmp_path, now, devices=())
    hal.p2p_amps = 1.0  # 230 W: 230 Wh in the hour, target not reached
    node.on_message(CMD, _cmd(1, "out", 1000, 0, 3600))
    for t in range(0, 1800):
        now[0] = float(t)
        node.step(0)
    writes = node.deliveries.store.writes
    assert 1 + 1800 / 30 - 2 <= writes <= 1 + 1800 / 30 + 1
    (record,) = (tmp_path / "deliveries").glob("1.json")
    stored = json.loads(record.read_text())
    assert stored["state"] == "active" and 110 <= stored["wh"] <= 115  # 230 W x 0.5 h
    node2, hal2, client2 = _node(tmp_path, now, devices=())
    hal2.p2p_amps = 1.0
    for t in range(1900, 3601):  # down for 100 s: the relay was open, nothing counted
        now[0] = float(t)
        node2.step(0)
    assert hal2.switches == [("out", True), ("out", False)]
    (result,) = client2.results()
    assert result.reason == "window_end"
    assert 115 + 1700 * 230 / 3600 - 3 <= result.measured_wh <= 115 + 1700 * 230 / 3600


def test_readings_buffered_offline_sent_oldest_first(tmp_path: Path) -> None:
    now, wall = [0.0], [0.0]
    node, _, client = _node(tmp_path, now, wall, devices=("meter",), drain_max=5)
    client.up = False
    for t in range(0, 40):
        now[0] = wall[0] = float(t)
        node.step(0)
    assert len(node.outbox) == 40 and client.sent == []
    client.up = True
    for t in range(40, 80):
        now[0] = wall[0] = float(t)
        node.step(0)
    ts = [json.loads(p)["ts"] for t, p, _ in client.sent if t.endswith("/reading")]
    assert ts == [float(t) for t in range(0, 80)][: len(ts)] and len(ts) >= 75


def _example_config() -> dict[str, object]:
    ns: dict[str, object] = {}
    exec((Path(__file__).resolve().parents[2] / "firmware" / "config.example.py").read_text(), ns)
    return ns


def test_example_config_wiring_is_valid() -> None:
    cfg = _example_config()
    check_channels(cfg["CHANNELS"], cfg["RELAYS"])
    check_channels(cfg["DC_LAB_CHANNELS"], cfg["RELAYS"])


@pytest.mark.parametrize(
    ("channels", "reason"),
    [
        (  # the old example: three channels on the same ADC pins
            {
                "meter": {"v_pin": 26, "i_pin": 27},
                "pv": {"v_pin": 26, "i_pin": 27},
                "p2p": {"v_pin": 28},
            },
            "ADC pin 27 wired to both meter.i_pin and pv.i_pin",
        ),
        ({"p2p": {"kind": "ac", "v_pin": 26, "i_pin": 29}}, "not ADC0-ADC2"),
        ({"p2p": {"kind": "ac", "v_pin": 26}}, "needs i_pin"),
        (  # two CTs on one pin
            {
                "meter": {"kind": "ac", "v_pin": 26, "i_pin": 27},
                "p2p": {"kind": "ac", "v_pin": 26, "i_pin": 27},
            },
            "ADC pin 27",
        ),
        (  # a DC and an AC channel cannot share a voltage pin
            {
                "bess": {"kind": "dc", "v_pin": 26, "i_pin": 27},
                "p2p": {"kind": "ac", "v_pin": 26, "i_pin": 28},
            },
            "ADC pin 26",
        ),
        (  # the shared mains voltage must be one sensor with one calibration
            {
                "meter": {"kind": "ac", "v_pin": 26, "v_cal": 380.0, "i_pin": 27},
                "p2p": {"kind": "ac", "v_pin": 26, "v_cal": 390.0, "i_pin": 28},
            },
            "ADC pin 26",
        ),
    ],
)
def test_miswired_channels_are_refused(channels: dict[str, dict[str, object]], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_channels(channels, {"out": 15, "in": 14})


def test_miswired_relays_are_refused() -> None:
    channels = {"p2p": {"kind": "ac", "v_pin": 26, "i_pin": 28}}
    with pytest.raises(ValueError, match="GPIO 15 already used"):
        check_channels(channels, {"out": 15, "in": 15})
    with pytest.raises(ValueError, match="GPIO 26 already used"):
        check_channels(channels, {"out": 26})
    with pytest.raises(ValueError, match="meter channel 'grid'"):
        check_channels(channels, {"out": {"pin": 15, "meter": "grid"}})


def test_board_times_stay_integers(tmp_path: Path) -> None:
    """On the Pico floats are 32-bit: with an integer clock no time leaves the node as a
    float (readings, results), and ISO windows parse to integers."""
    assert timeutil.parse_ts("2026-11-30T13:00:00Z") == 1_796_043_600
    assert isinstance(timeutil.parse_ts("2026-11-30T13:00:00+00:00"), int)
    now: list[float] = [1_796_043_590]  # ints: the board's clock
    node, _, client = _node(tmp_path, now, devices=("meter",), period_s=5)
    node.on_message(
        CMD,
        _cmd(1, "out", 5, "2026-11-30T13:00:00Z", "2026-11-30T14:00:00Z"),
    )
    for _ in range(60):
        now[0] += 1
        node.step(0)
    sent = [json.loads(p) for _, p, _ in client.sent]
    assert all(type(m["ts"]) is int for m in sent if "ts" in m)
    (result,) = [m for m in sent if "trade_id" in m]
    assert type(result["closed_at"]) is int and type(result["opened_at"]) is int
    assert type(sent[0]["e_wh"]) is int


def test_energy_counter_keeps_whole_wh() -> None:
    integ = sensors.Integrator()
    integ.whole = 10**7  # 10 MWh: a 32-bit float could no longer add 0.4 Wh steps
    integ.add(0, 300.0)
    for t in range(5, 3601, 5):
        integ.add(t, 300.0)
    assert integ.whole == 10**7 + 300 and integ.frac == pytest.approx(0.0, abs=1e-6)
