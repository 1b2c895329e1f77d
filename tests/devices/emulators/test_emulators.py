"""The emulated devices' payloads follow the vendors' documented formats (no broker:
their publications are recorded)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from gridpeer.devices.emulators.base import Channel, constant
from gridpeer.devices.emulators.shelly import ShellyEmulator
from gridpeer.devices.emulators.tasmota import TasmotaEmulator
from gridpeer.telemetry.adapters.readings import ChannelReading
from gridpeer.telemetry.adapters.shelly import ShellyAdapter
from gridpeer.telemetry.adapters.tasmota import TasmotaAdapter


class Recorder:
    """Stands in for the device's MQTT link."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self.sent.append((topic, payload))


class FakeClock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def test_tasmota_sensor_message_and_midnight_roll() -> None:
    clock = FakeClock(datetime(2026, 6, 2, 3, 59, 0, tzinfo=UTC))  # 23:59 in Santiago
    chans = [Channel(constant(1200.0), relay_on=True), Channel(constant(0.0))]
    dev = TasmotaEmulator(
        "plug",
        "127.0.0.1",
        1,
        chans,
        tele_period_s=10,
        now=clock,
        tz="America/Santiago",
        per_channel_total=True,
    )
    rec = Recorder()
    dev.link = rec  # type: ignore[assignment]
    dev.step()
    clock.t += timedelta(minutes=2)  # past local midnight: 2 min at 1,200 W = 40 Wh
    dev.step()
    topic, payload = rec.sent[-1]
    body = json.loads(payload)
    assert topic == "tele/plug/SENSOR" and body["Time"] == "2026-06-02T00:01:00"
    e = body["ENERGY"]
    assert set(e) == {
        "TotalStartTime",
        "Total",
        "Yesterday",
        "Today",
        "Period",
        "Power",
        "ApparentPower",
        "ReactivePower",
        "Factor",
        "Voltage",
        "Current",
    }
    assert e["Power"] == [1200, 0] and e["Total"] == [0.04, 0.0] and e["Voltage"] == 230
    assert e["Today"] == [0.0, 0.0] and e["Yesterday"] == [0.04, 0.0]
    assert e["Factor"] == [0.95, 0.0] and e["Current"] == [round(1200 / 230 / 0.95, 3), 0.0]
    u = TasmotaAdapter("plug", tz="America/Santiago").handle(topic, payload.encode(), clock.t)
    assert u.rejection is None and [r.energy_wh for r in u.readings] == [40, 0]


def test_tasmota_commands_answer_on_result() -> None:
    dev = TasmotaEmulator("plug", "127.0.0.1", 1, [Channel(constant(100.0))])
    rec = Recorder()
    dev.link = rec  # type: ignore[assignment]
    dev._on_command("cmnd/plug/POWER1", b"ON")
    assert dev.channels[0].relay_on and ("stat/plug/RESULT", '{"POWER": "ON"}') in rec.sent
    dev._on_command("cmnd/plug/POWER", b"TOGGLE")
    assert not dev.channels[0].relay_on
    dev._on_command("cmnd/plug/POWER7", b"ON")
    assert rec.sent[-1] == ("stat/plug/RESULT", '{"Command":"Unknown"}')


def test_shelly_switch_set_answer_and_notify_only_what_changed() -> None:
    clock = FakeClock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    dev = ShellyEmulator(
        "shellyplus1pm-x", "127.0.0.1", 1, "plus1pm", [Channel(constant(500.0))], now=clock
    )
    rec = Recorder()
    dev.link = rec  # type: ignore[assignment]
    dev.step()
    req = {"id": 3, "src": "me", "method": "Switch.Set", "params": {"id": 0, "on": True}}
    dev._on_rpc("shellyplus1pm-x/rpc", json.dumps(req).encode())
    answers = [json.loads(p) for t, p in rec.sent if t == "me/rpc"]
    assert answers == [
        {"id": 3, "src": "shellyplus1pm-x", "dst": "me", "result": {"was_on": False}}
    ]
    notes = [json.loads(p) for t, p in rec.sent if t == "shellyplus1pm-x/events/rpc"]
    delta = notes[-1]["params"]["switch:0"]
    assert notes[-1]["method"] == "NotifyStatus" and delta["output"] is True
    assert "voltage" not in delta  # unchanged: not repeated
    bad = {"id": 4, "src": "me", "method": "Switch.Set", "params": {"id": 3, "on": True}}
    dev._on_rpc("shellyplus1pm-x/rpc", json.dumps(bad).encode())
    assert "error" in json.loads(rec.sent[-1][1])
    # the adapter reads the emulator's full status
    a = ShellyAdapter("shellyplus1pm-x")
    full = json.dumps(dev.components()["switch:0"]).encode()
    u = a.handle("shellyplus1pm-x/status/switch:0", full, clock.t)
    assert u.relays == {0: True} and u.readings[0].power_w == 500.0


def test_shelly_pro3em_status_fields() -> None:
    chans = [Channel(constant(w)) for w in (100.0, 200.0, -300.0)]
    dev = ShellyEmulator("pro3em", "127.0.0.1", 1, "pro3em", chans)
    dev.step()
    comps = dev.components()
    assert comps["em:0"]["total_act_power"] == 0.0 and comps["em:0"]["c_act_power"] == -300.0
    assert {"a_total_act_energy", "total_act", "total_act_ret"} <= set(comps["emdata:0"])


def test_shelly_pro_em_channels_relay_and_counters() -> None:
    clock = FakeClock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    line, grid = Channel(constant(3600.0)), Channel(constant(-1800.0))
    dev = ShellyEmulator("shellyproem50-x", "127.0.0.1", 1, "proem", [line, grid], now=clock)
    rec = Recorder()
    dev.link = rec  # type: ignore[assignment]
    dev.step()
    comps = dev.components()
    assert set(comps) == {"switch:0", "em1:0", "em1:1", "em1data:0", "em1data:1"}
    assert set(comps["switch:0"]) == {"id", "source", "output", "temperature"}  # no metering
    assert set(comps["em1:1"]) == {
        "id", "current", "voltage", "act_power", "aprt_power", "pf", "freq", "calibration"
    }  # fmt: skip
    assert set(comps["em1data:0"]) == {"id", "total_act_energy", "total_act_ret_energy"}
    assert comps["em1:0"]["act_power"] == 0.0  # the relay is open
    assert comps["em1:1"]["act_power"] == -1800.0  # not behind the relay: always flows
    on = {"id": 1, "src": "me", "method": "Switch.Set", "params": {"id": 0, "on": True}}
    dev._on_rpc("shellyproem50-x/rpc", json.dumps(on).encode())
    bad = {"id": 2, "src": "me", "method": "Switch.Set", "params": {"id": 1, "on": True}}
    dev._on_rpc("shellyproem50-x/rpc", json.dumps(bad).encode())
    answers = [json.loads(p) for t, p in rec.sent if t == "me/rpc"]
    assert answers[0]["result"] == {"was_on": False} and "error" in answers[1]
    clock.t += timedelta(hours=1)
    dev.step()
    clock.t += timedelta(seconds=1)
    dev.step()
    comps = dev.components()
    assert comps["em1data:0"]["total_act_energy"] == 3601.0  # 3.6 kW for 1 h + 1 s
    assert comps["em1data:1"]["total_act_ret_energy"] == 1800.5
    get = {"id": 3, "src": "me", "method": "EM1Data.GetStatus", "params": {"id": 1}}
    dev._on_rpc("shellyproem50-x/rpc", json.dumps(get).encode())
    assert json.loads(rec.sent[-1][1])["result"] == comps["em1data:1"]
    # the adapter reads them: channel n = em1:n with its em1data:n counters (Wh)
    a = ShellyAdapter("shellyproem50-x")
    relays: dict[int, bool] = {}
    got: dict[int, ChannelReading] = {}
    for key, status in comps.items():
        u = a.handle(f"shellyproem50-x/status/{key}", json.dumps(status).encode(), clock.t)
        assert u.rejection is None, u.rejection
        relays |= u.relays
        got |= {r.channel: r for r in u.readings}
    assert relays == {0: True}
    assert got[0].power_w == 3600.0 and got[0].energy_wh == 3601
    assert got[1].power_w == -1800.0 and got[1].returned_wh == 1800
