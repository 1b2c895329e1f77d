"""Tasmota SENSOR / LWT / RESULT parsing and the adapter's state (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gridpeer.telemetry.adapters.readings import AdapterReject
from gridpeer.telemetry.adapters.tasmota import TasmotaAdapter, parse_result, power_command

RECEIVED = datetime(2026, 6, 1, 16, 0, 30, tzinfo=UTC)


def sensor(time: str | None = "2026-06-01T12:00:00", **energy: Any) -> bytes:
    body: dict[str, Any] = {
        "ENERGY": {
            "TotalStartTime": "2025-01-01T00:00:00",
            "Total": 12.345,
            "Yesterday": 1.234,
            "Today": 0.567,
            "Period": 2,
            "Power": 123,
            "ApparentPower": 150,
            "ReactivePower": 86,
            "Factor": 0.82,
            "Voltage": 230,
            "Current": 0.652,
        }
    }
    body["ENERGY"].update(energy)
    body["ENERGY"] = {k: v for k, v in body["ENERGY"].items() if v is not None}
    if time is not None:
        body["Time"] = time
    return json.dumps(body).encode()


def plug(tz: str = "UTC") -> TasmotaAdapter:
    return TasmotaAdapter("plug1", tz=tz)


def test_documented_single_channel_message_in_gridpeer_units() -> None:
    u = plug().handle("tele/plug1/SENSOR", sensor(), RECEIVED)
    assert u.rejection is None and len(u.readings) == 1
    r = u.readings[0]
    assert r.ts == datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert (r.power_w, r.voltage_v, r.current_a, r.power_factor) == (123.0, 230.0, 0.652, 0.82)
    assert (r.apparent_va, r.reactive_var) == (150.0, 86.0)
    assert r.energy_wh == 12_345  # Total 12.345 kWh → Wh


def test_local_time_is_converted_with_the_device_time_zone() -> None:
    u = plug("America/Santiago").handle("tele/plug1/SENSOR", sensor(), RECEIVED)
    assert u.readings[0].ts == datetime(2026, 6, 1, 16, tzinfo=UTC)  # UTC-4 in June


def test_multi_channel_arrays_give_one_reading_per_channel() -> None:
    msg = sensor(
        Power=[100, 0],
        ApparentPower=[110, 0],
        ReactivePower=[46, 0],
        Factor=[0.91, 0],
        Current=[0.478, 0],
        Total=[1.5, 0.25],
        Today=[0.1, 0],
        Yesterday=[0.2, 0],
    )
    u = plug().handle("tele/plug1/SENSOR", msg, RECEIVED)
    assert [(r.channel, r.power_w, r.energy_wh, r.voltage_v) for r in u.readings] == [
        (0, 100.0, 1_500, 230.0),
        (1, 0.0, 250, 230.0),
    ]


def test_summed_total_beside_arrays_is_no_per_channel_counter() -> None:
    u = plug().handle("tele/plug1/SENSOR", sensor(Power=[100, 20], Total=3.0), RECEIVED)
    assert [r.energy_wh for r in u.readings] == [None, None]


def test_arrays_of_different_lengths_are_malformed() -> None:
    u = plug().handle("tele/plug1/SENSOR", sensor(Power=[1, 2], Current=[0.1]), RECEIVED)
    assert u.rejection is not None and u.rejection.reason is AdapterReject.MALFORMED


def test_today_reset_at_midnight_does_not_touch_the_lifetime_energy() -> None:
    a = plug()
    a.handle("tele/plug1/SENSOR", sensor("2026-06-01T23:59:50", Total=10.0, Today=2.0), RECEIVED)
    u = a.handle(
        "tele/plug1/SENSOR",
        sensor("2026-06-02T00:00:00", Total=10.001, Today=0.0, Yesterday=2.001),
        RECEIVED,
    )
    assert u.readings[0].energy_wh == 10_001 and a.counters[0].resets == 0


def test_power_cut_rollback_and_reset_are_handled_by_the_counter() -> None:
    a = plug()
    a.handle("tele/plug1/SENSOR", sensor("2026-06-01T12:00:00", Total=10.0), RECEIVED)
    a.handle("tele/plug1/SENSOR", sensor("2026-06-01T12:05:00", Total=10.05), RECEIVED)
    assert a.handle("tele/plug1/LWT", b"Offline", RECEIVED).online is False
    assert a.handle("tele/plug1/LWT", b"Online", RECEIVED).online is True
    u = a.handle("tele/plug1/SENSOR", sensor("2026-06-01T12:06:00", Total=10.04), RECEIVED)
    assert u.readings[0].energy_wh == 10_050 and a.counters[0].rollbacks == 1
    u = a.handle("tele/plug1/SENSOR", sensor("2026-06-01T12:07:00", Total=0.002), RECEIVED)
    assert u.readings[0].energy_wh == 10_052 and a.counters[0].resets == 1


def test_out_of_order_and_repeated_messages_are_rejected_and_counted_once() -> None:
    a = plug()
    first = sensor("2026-06-01T12:00:10", Total=1.0)
    assert a.handle("tele/plug1/SENSOR", first, RECEIVED).rejection is None
    old = a.handle("tele/plug1/SENSOR", sensor("2026-06-01T12:00:00", Total=0.9), RECEIVED)
    assert old.rejection is not None and old.rejection.reason is AdapterReject.OUT_OF_ORDER
    again = a.handle("tele/plug1/SENSOR", first, RECEIVED)  # QoS 1 redelivery
    assert again.rejection is not None and again.rejection.reason is AdapterReject.OUT_OF_ORDER
    same_second = sensor("2026-06-01T12:00:10", Total=1.0, Power=900)  # PowerDelta
    assert a.handle("tele/plug1/SENSOR", same_second, RECEIVED).readings[0].power_w == 900.0
    assert a.counters[0].wh == 1_000


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", AdapterReject.MALFORMED),
        (b'{"Time":"2026-06-01T12:00:00","DS18B20":{"Temperature":21}}', AdapterReject.MALFORMED),
        (sensor(Power=None), AdapterReject.MALFORMED),
        (sensor(Power="12"), AdapterReject.MALFORMED),
        (sensor(Voltage=5000), AdapterReject.OUT_OF_RANGE),
        (sensor(Factor=1.5), AdapterReject.OUT_OF_RANGE),
        (sensor(Total=-1), AdapterReject.OUT_OF_RANGE),
        (sensor("1970-01-01T00:00:12"), AdapterReject.OUT_OF_RANGE),  # before NTP sync
        (sensor("yesterday noon"), AdapterReject.MALFORMED),
        (b"{" + b" " * 20_000 + b"}", AdapterReject.TOO_LARGE),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(payload: bytes, reason: AdapterReject) -> None:
    u = plug().handle("tele/plug1/SENSOR", payload, RECEIVED)
    assert u.rejection is not None and u.rejection.reason is reason and not u.readings


def test_missing_optional_fields_and_time() -> None:
    u = plug().handle(
        "tele/plug1/SENSOR",
        sensor(None, Voltage=None, Current=None, Factor=None, Total=None),
        RECEIVED,
    )
    r = u.readings[0]
    assert r.ts == RECEIVED and r.voltage_v is None and r.energy_wh is None


def test_wrong_unit_jump_is_rejected() -> None:
    a = plug()
    a.handle("tele/plug1/SENSOR", sensor("2026-06-01T12:00:00", Total=12.345), RECEIVED)
    u = a.handle("tele/plug1/SENSOR", sensor("2026-06-01T12:00:10", Total=12345.0), RECEIVED)
    assert u.rejection is not None and u.rejection.reason is AdapterReject.OUT_OF_RANGE
    assert a.counters[0].wh == 12_345


def test_relay_commands_and_results() -> None:
    assert power_command("plug1", 0, True) == ("cmnd/plug1/POWER1", "ON")
    assert power_command("plug1", 1, False) == ("cmnd/plug1/POWER2", "OFF")
    assert parse_result(b'{"POWER":"ON"}') == {0: True}
    assert parse_result(b'{"POWER2":"OFF","POWER1":"on"}') == {1: False, 0: True}
    assert parse_result(b'{"Dimmer":50,"PowerOnState":1}') == {}
    a = plug()
    u = a.handle("stat/plug1/RESULT", b'{"POWER1":"ON"}', RECEIVED)
    assert u.relays == {0: True} and a.relays == {0: True}
    bad = a.handle("stat/plug1/RESULT", b'{"POWER":"MAYBE"}', RECEIVED)
    assert bad.rejection is not None and bad.rejection.reason is AdapterReject.MALFORMED
    lwt = a.handle("tele/plug1/LWT", b"Sleeping", RECEIVED)
    assert lwt.rejection is not None
    other = a.handle("tele/plug2/SENSOR", sensor(), RECEIVED)
    assert other.rejection is not None and other.rejection.reason is AdapterReject.FOREIGN
