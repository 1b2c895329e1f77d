"""Shelly Gen2+ status, NotifyStatus deltas and RPC answers (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from random import Random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gridpeer.telemetry.adapters.readings import AdapterReject
from gridpeer.telemetry.adapters.shelly import ShellyAdapter, overlay, switch_set

P = "shellyplus1pm-a8032ab12345"
RX = datetime(2026, 6, 1, 12, tzinfo=UTC)
TS = RX.timestamp()


def switch_status(**kw: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "id": 0,
        "source": "init",
        "output": False,
        "apower": 0.0,
        "voltage": 237.5,
        "freq": 50.0,
        "current": 0.0,
        "pf": 0.0,
        "aenergy": {"total": 6532.0, "by_minute": [0.0, 0.0, 0.0], "minute_ts": 1654511520},
        "temperature": {"tC": 23.5, "tF": 74.4},
    }
    s.update(kw)
    return s


def notify(ts: float, **comps: Any) -> bytes:
    return json.dumps(
        {
            "src": P,
            "dst": f"{P}/events",
            "method": "NotifyStatus",
            "params": {"ts": ts, **{k.replace("_", ":"): v for k, v in comps.items()}},
        }
    ).encode()


def based() -> ShellyAdapter:
    a = ShellyAdapter(P, src="gridpeer-h1")
    u = a.handle(f"{P}/status/switch:0", json.dumps(switch_status()).encode(), RX)
    assert u.rejection is None and u.relays == {0: False}
    return a


def test_full_status_gives_a_reading_in_gridpeer_units() -> None:
    a = ShellyAdapter(P)
    st = switch_status(output=True, apower=8.9, current=0.04, pf=0.95)
    u = a.handle(f"{P}/status/switch:0", json.dumps(st).encode(), RX)
    r = u.readings[0]
    assert (r.channel, r.power_w, r.voltage_v, r.current_a, r.power_factor) == (
        0,
        8.9,
        237.5,
        0.04,
        0.95,
    )
    assert r.energy_wh == 6532 and u.relays == {0: True}  # aenergy.total is Wh already


def test_notify_status_delta_is_overlaid_on_the_last_full_status() -> None:
    a = based()
    u = a.handle(
        f"{P}/events/rpc",
        notify(TS + 1, switch_0={"id": 0, "apower": 1500.0, "aenergy": {"total": 6540.5}}),
        RX,
    )
    r = u.readings[0]
    assert (r.power_w, r.voltage_v, r.energy_wh) == (1500.0, 237.5, 6540)
    assert a.status["switch:0"]["aenergy"]["minute_ts"] == 1654511520  # nested merge
    assert u.relays == {0: False}


def test_delta_before_any_full_status_is_rejected_as_no_base() -> None:
    a = ShellyAdapter(P)
    u = a.handle(f"{P}/events/rpc", notify(TS, switch_0={"id": 0, "apower": 5.0}), RX)
    assert u.rejection is not None and u.rejection.reason is AdapterReject.NO_BASE
    topic, body = a.status_request()
    assert topic == f"{P}/rpc" and json.loads(body)["method"] == "Shelly.GetStatus"
    answer = {
        "id": json.loads(body)["id"],
        "src": P,
        "dst": "gridpeer",
        "result": {"switch:0": switch_status(apower=5.0), "sys": {"uptime": 10}},
    }
    u = a.handle("gridpeer/rpc", json.dumps(answer).encode(), RX)
    assert u.rejection is None and u.readings[0].power_w == 5.0


def test_out_of_order_and_repeated_notifications_are_rejected() -> None:
    a = based()
    a.handle(f"{P}/events/rpc", notify(TS + 2, switch_0={"id": 0, "apower": 20.0}), RX)
    late = a.handle(f"{P}/events/rpc", notify(TS + 1, switch_0={"id": 0, "apower": 10.0}), RX)
    assert late.rejection is not None and late.rejection.reason is AdapterReject.OUT_OF_ORDER
    again = a.handle(f"{P}/events/rpc", notify(TS + 2, switch_0={"id": 0, "apower": 20.0}), RX)
    assert again.rejection is not None
    assert a.status["switch:0"]["apower"] == 20.0
    same_tick = a.handle(f"{P}/events/rpc", notify(TS + 2, switch_0={"id": 0, "output": True}), RX)
    assert same_tick.rejection is None and same_tick.relays == {0: True}  # 10 ms resolution


def test_reboot_counter_restart_is_a_reset_not_a_loss_or_a_double_count() -> None:
    a = based()
    a.handle(
        f"{P}/events/rpc", notify(TS + 60, switch_0={"id": 0, "aenergy": {"total": 6600.0}}), RX
    )
    assert a.handle(f"{P}/online", b"false", RX).online is False
    assert a.handle(f"{P}/online", b"true", RX).online is True
    u = a.handle(
        f"{P}/status/switch:0",
        json.dumps(switch_status(aenergy={"total": 2.0, "by_minute": [], "minute_ts": 0})).encode(),
        RX,
    )
    assert u.readings[0].energy_wh == 6602 and a.counters[("switch", 0, "act")].resets == 1


def test_pro3em_phases_and_totals() -> None:
    a = ShellyAdapter("shellypro3em-c8f09e8a1b2c")
    em: dict[str, Any] = {
        "id": 0,
        "total_current": 6.0,
        "total_act_power": 900.0,
        "total_aprt_power": 1000.0,
        "n_current": None,
        "user_calibrated_phase": [],
    }
    for ph, p in zip("abc", (1000.0, -200.0, 100.0), strict=True):
        em |= {
            f"{ph}_current": 2.0,
            f"{ph}_voltage": 230.0,
            f"{ph}_act_power": p,
            f"{ph}_aprt_power": abs(p) + 10,
            f"{ph}_pf": -0.9 if p < 0 else 0.9,
            f"{ph}_freq": 50.0,
        }
    data = {"id": 0, "total_act": 5000.0, "total_act_ret": 700.0}
    for ph in "abc":
        data |= {f"{ph}_total_act_energy": 1000.0, f"{ph}_total_act_ret_energy": 100.0}
    pre = "shellypro3em-c8f09e8a1b2c"
    assert a.handle(f"{pre}/status/emdata:0", json.dumps(data).encode(), RX).readings == ()
    u = a.handle(f"{pre}/status/em:0", json.dumps(em).encode(), RX)
    by_ch = {r.channel: r for r in u.readings}
    assert by_ch[0].power_w == 900.0 and by_ch[0].energy_wh == 5000
    assert by_ch[0].returned_wh == 700 and by_ch[0].voltage_v == 230.0
    assert by_ch[2].power_w == -200.0 and by_ch[2].power_factor == 0.9
    assert by_ch[1].energy_wh == 1000
    assert by_ch[0].meter_reading().p_grid == 900.0


def test_pro_em_em1_channels() -> None:
    a = ShellyAdapter("shellyproem50-1")
    a.handle(
        "shellyproem50-1/status/em1data:1",
        json.dumps({"id": 1, "total_act_energy": 6644.9, "total_act_ret_energy": 2595.26}).encode(),
        RX,
    )
    u = a.handle(
        "shellyproem50-1/status/em1:1",
        json.dumps(
            {
                "id": 1,
                "current": 22.78,
                "voltage": 224.6,
                "act_power": 5080.3,
                "aprt_power": 5142.4,
                "pf": 0.99,
                "freq": 50.0,
                "calibration": "factory",
            }
        ).encode(),
        RX,
    )
    r = u.readings[0]
    assert (r.channel, r.power_w, r.energy_wh, r.returned_wh) == (1, 5080.3, 6644, 2595)


def test_switch_set_rpc_and_its_answer_confirm_the_relay() -> None:
    a = based()
    topic, body = a.relay_command(0, True)
    req = json.loads(body)
    assert topic == f"{P}/rpc"
    assert req["method"] == "Switch.Set" and req["params"] == {"id": 0, "on": True}
    assert req["src"] == "gridpeer-h1"
    answer = {"id": req["id"], "src": P, "dst": "gridpeer-h1", "result": {"was_on": False}}
    u = a.handle("gridpeer-h1/rpc", json.dumps(answer).encode(), RX)
    assert u.relays == {0: True} and a.relays[0] is True
    assert a.handle("gridpeer-h1/rpc", json.dumps(answer).encode(), RX).relays == {}  # repeat
    _, body2 = a.relay_command(0, False)
    err = {
        "id": json.loads(body2)["id"],
        "src": P,
        "dst": "gridpeer-h1",
        "error": {"code": -103, "message": "bad"},
    }
    u = a.handle("gridpeer-h1/rpc", json.dumps(err).encode(), RX)
    assert u.rejection is not None and u.rejection.reason is AdapterReject.DEVICE_ERROR
    assert a.relays[0] is True
    assert switch_set(P, "x", 7, 1, False)[1] == (
        '{"id":7,"src":"x","method":"Switch.Set","params":{"id":1,"on":false}}'
    )


def test_bad_messages_are_rejected_with_a_reason() -> None:
    a = based()
    cases = [
        (f"{P}/status/switch:0", b"[]", AdapterReject.MALFORMED),
        (f"{P}/status/switch:0", b"{", AdapterReject.MALFORMED),
        (
            f"{P}/status/switch:0",
            json.dumps(switch_status(apower="7")).encode(),
            AdapterReject.MALFORMED,
        ),
        (
            f"{P}/status/switch:0",
            json.dumps(switch_status(voltage=9999)).encode(),
            AdapterReject.OUT_OF_RANGE,
        ),
        (
            f"{P}/events/rpc",
            notify(TS + 5, switch_0={"aenergy": {"total": 9e9}}),
            AdapterReject.OUT_OF_RANGE,
        ),
        (f"{P}/events/rpc", b'{"method":"NotifyStatus"}', AdapterReject.MALFORMED),
        (f"{P}/online", b"maybe", AdapterReject.MALFORMED),
        ("other/status/switch:0", b"{}", AdapterReject.FOREIGN),
    ]
    for topic, payload, reason in cases:
        u = a.handle(topic, payload, RX)
        assert u.rejection is not None and u.rejection.reason is reason, (topic, payload)
    assert a.counters[("switch", 0, "act")].wh == 6532  # nothing committed


def test_unmetered_components_and_events_are_accepted_without_readings() -> None:
    a = based()
    assert a.handle(f"{P}/status/sys", b'{"uptime":5}', RX) == a.handle(
        f"{P}/status/wifi", b"{}", RX
    )
    ev = {"src": P, "method": "NotifyEvent", "params": {"ts": TS, "events": []}}
    u = a.handle(f"{P}/events/rpc", json.dumps(ev).encode(), RX)
    assert u.rejection is None and u.readings == ()


def test_overlay_merges_nested_objects() -> None:
    assert overlay({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}}) == {
        "a": {"x": 1, "y": 3},
        "b": 1,
    }


@given(
    st.lists(st.floats(0, 5), min_size=1, max_size=30),
    st.randoms(use_true_random=False),
    st.integers(0, 10),
)
def test_any_order_of_notifications_never_counts_more_than_the_device(
    increments: list[float], rnd: Random, dups: int
) -> None:
    """Shuffled and repeated NotifyStatus frames: the lifetime energy never decreases
    and never exceeds the device's own counter."""
    a = based()
    raw, frames = 6532.0, []
    for k, wh in enumerate(increments, 1):
        raw += wh
        frames.append(notify(TS + k, switch_0={"id": 0, "aenergy": {"total": raw}}))
    frames += [rnd.choice(frames) for _ in range(dups)]
    rnd.shuffle(frames)
    last = 6532
    for f in frames:
        a.handle(f"{P}/events/rpc", f, RX)
        now = a.counters[("switch", 0, "act")].wh
        assert last <= now <= int(raw + 1e-9)
        last = now
