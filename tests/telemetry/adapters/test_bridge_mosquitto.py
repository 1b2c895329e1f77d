"""Emulated Tasmota and Shelly devices → real Mosquitto → the adapters' bridge."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from gridpeer.core.mqtt import BrokerAddress, MqttClient
from gridpeer.devices.emulators.base import Channel, constant
from gridpeer.devices.emulators.shelly import ShellyEmulator
from gridpeer.devices.emulators.tasmota import TasmotaEmulator
from gridpeer.telemetry.adapters.bridge import DeviceBridge
from gridpeer.telemetry.adapters.config import DeviceConfig
from gridpeer.telemetry.adapters.shelly import ShellyAdapter
from gridpeer.telemetry.adapters.tasmota import TasmotaAdapter
from gridpeer.telemetry.broker import MosquittoBroker

pytestmark = pytest.mark.mosquitto


def wait(cond: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def stop_all() -> Iterator[list[object]]:
    things: list[object] = []
    yield things
    for t in reversed(things):
        t.stop()  # type: ignore[attr-defined]


def test_tasmota_plug_readings_relay_and_republished_meter_readings(
    mosquitto: MosquittoBroker, stop_all: list[object]
) -> None:
    host, port = mosquitto.address.host, mosquitto.address.port
    plug = TasmotaEmulator(
        "plug-h1",
        host,
        port,
        [Channel(constant(1500.0), energy_wh=10_000.0)],  # a used plug, saved at 10 kWh
        tele_period_s=1.0,
        power_delta_w=50,
    )
    plug.start()
    stop_all.append(plug)
    got: list[dict[str, object]] = []
    watcher = MqttClient(
        "watcher",
        BrokerAddress(host, port),
        subscriptions=["gridpeer/lab/h1/meter/reading"],
        on_message=lambda _t, p: got.append(json.loads(p)),
    )
    watcher.start()
    stop_all.append(watcher)
    dev = DeviceConfig(kind="tasmota", topic="plug-h1", role="house")
    bridge = DeviceBridge(host, port, [dev], "gp-h1", community="lab", house="h1")
    bridge.start()
    stop_all.append(bridge)

    wait(lambda: bridge.online("plug-h1") is True, "LWT Online")
    wait(lambda: bridge.reading("plug-h1", 0) is not None, "a SENSOR reading")
    assert bridge.reading("plug-h1", 0).reading.power_w == 0.0  # type: ignore[union-attr]
    bridge.set_relay("plug-h1", 0, True, wait_s=2.0)
    wait(lambda: bridge.relay("plug-h1", 0) is not None, "stat/RESULT")
    assert bridge.relay("plug-h1", 0)[0] is True  # type: ignore[index]
    assert plug.channels[0].relay_on
    wait(
        lambda: (s := bridge.reading("plug-h1", 0)) is not None and s.reading.power_w == 1500.0,
        "1500 W once the relay closed",
    )
    wait(lambda: any(m["p"] == 1500.0 for m in got), "a gridpeer meter reading")
    m = next(m for m in got if m["p"] == 1500.0)
    assert m["p_grid"] == 1500.0 and m["v"] == 230.0 and isinstance(m["e_wh"], int)
    counts = bridge.counts["plug-h1"]
    assert counts.accepted >= 3 and counts.rejected_total == 0

    # a power cut: LWT Offline then Online; Total restarts from the last flash save
    wait(
        lambda: (bridge.reading("plug-h1", 0).reading.energy_wh or 0) >= 10_001,  # type: ignore[union-attr]
        "some energy metered",
    )
    before = bridge.reading("plug-h1", 0).reading.energy_wh  # type: ignore[union-attr]
    plug.power_cut()
    tas = bridge.adapters["plug-h1"]
    assert isinstance(tas, TasmotaAdapter)
    wait(lambda: tas.counters[0].rollbacks == 1, "online again, rollback seen")
    assert bridge.online("plug-h1") is True
    assert bridge.relay("plug-h1", 0) is None  # the Offline voided its confirmed relay state
    after = bridge.reading("plug-h1", 0).reading.energy_wh  # type: ignore[union-attr]
    assert after is not None and before is not None and after >= before  # never backwards


def test_shelly_plus1pm_switch_set_and_notifications(
    mosquitto: MosquittoBroker, stop_all: list[object]
) -> None:
    host, port = mosquitto.address.host, mosquitto.address.port
    prefix = "shellyplus1pm-a8032ab12345"
    dev_ = ShellyEmulator(
        prefix, host, port, "plus1pm", [Channel(constant(2000.0))], notify_period_s=0.5
    )
    dev_.start()
    stop_all.append(dev_)
    dev = DeviceConfig(kind="shelly-plus1pm", topic=prefix, role="out")
    bridge = DeviceBridge(host, port, [dev], "gp-h2")
    bridge.start()
    stop_all.append(bridge)

    wait(lambda: bridge.reading(prefix, 0) is not None, "a status (GetStatus answer)")
    bridge.set_relay(prefix, 0, True, wait_s=2.0)
    wait(lambda: (bridge.relay(prefix, 0) or (False, 0))[0] is True, "Switch.Set answer")
    wait(
        lambda: (s := bridge.reading(prefix, 0)) is not None and s.reading.power_w == 2000.0,
        "2000 W through the switch",
    )
    wait(lambda: dev_.channels[0].energy_wh > 1.0, "energy metered")
    wait(
        lambda: (bridge.reading(prefix, 0).reading.energy_wh or 0) >= 1,  # type: ignore[union-attr]
        "energy in the readings",
    )
    bridge.set_relay(prefix, 0, False, wait_s=2.0)
    wait(lambda: (bridge.relay(prefix, 0) or (True, 0))[0] is False, "switched off")
    assert not dev_.channels[0].relay_on
    sh = bridge.adapters[prefix]
    assert isinstance(sh, ShellyAdapter)
    e_before = sh.counters[("switch", 0, "act")].total_wh

    dev_.reboot()  # the switch counter restarts at 0: a reset, nothing lost or doubled
    wait(lambda: sh.counters[("switch", 0, "act")].resets == 1, "reset")
    assert sh.counters[("switch", 0, "act")].total_wh >= e_before
    assert bridge.counts[prefix].rejected.get("out_of_order", 0) == 0


def test_shelly_pro3em_phases_feed_the_house_meter(
    mosquitto: MosquittoBroker, stop_all: list[object]
) -> None:
    host, port = mosquitto.address.host, mosquitto.address.port
    prefix = "shellypro3em-c8f09e8a1b2c"
    phases = [Channel(constant(w)) for w in (1200.0, 300.0, -500.0)]
    em = ShellyEmulator(prefix, host, port, "pro3em", phases, notify_period_s=0.5)
    em.start()
    stop_all.append(em)
    dev = DeviceConfig(kind="shelly-pro3em", topic=prefix, role="house")
    bridge = DeviceBridge(host, port, [dev], "gp-h3", community="lab", house="h3")
    bridge.start()
    stop_all.append(bridge)
    wait(lambda: all(bridge.reading(prefix, ch) for ch in range(4)), "all channels")
    wait(
        lambda: bridge.reading(prefix, 0).reading.power_w == pytest.approx(1000.0),  # type: ignore[union-attr]
        "the sum of the phases",
    )
    assert bridge.reading(prefix, 3).reading.power_w == -500.0  # type: ignore[union-attr]
    wait(lambda: bridge.republished >= 2, "meter readings republished")
    wait(
        lambda: (
            (bridge.reading(prefix, 0).reading.returned_wh or 0) > 0  # type: ignore[union-attr]
            or em.channels[2].returned_wh < 0.05
        ),
        "returned energy",
    )
    # only deltas that arrived before the full status the bridge asked for at start
    # (they cannot be applied to nothing) may be refused
    assert set(bridge.counts[prefix].rejected) <= {"no_base"}


def test_two_shellies_of_one_house_get_their_own_rpc_answers(
    mosquitto: MosquittoBroker, stop_all: list[object]
) -> None:
    host, port = mosquitto.address.host, mosquitto.address.port
    a = ShellyEmulator("shellypro1pm-aa", host, port, "pro1pm", [Channel(constant(100.0))])
    b = ShellyEmulator("shellyplus1pm-bb", host, port, "plus1pm", [Channel(constant(200.0))])
    for d in (a, b):
        d.start()
        stop_all.append(d)
    devs = [
        DeviceConfig(kind="shelly-pro1pm", topic="shellypro1pm-aa", role="out"),
        DeviceConfig(kind="shelly-plus1pm", topic="shellyplus1pm-bb", role="in"),
    ]
    bridge = DeviceBridge(host, port, devs, "gp-h5")
    bridge.start()
    stop_all.append(bridge)
    wait(lambda: all(bridge.reading(d.topic, 0) for d in devs), "both GetStatus answers")
    bridge.set_relay("shellyplus1pm-bb", 0, True, wait_s=2.0)
    wait(lambda: (bridge.relay("shellyplus1pm-bb", 0) or (False, 0))[0] is True, "b's answer")
    assert b.channels[0].relay_on and not a.channels[0].relay_on
    assert (bridge.relay("shellypro1pm-aa", 0) or (False, 0))[0] is False
    assert bridge.unrouted == 0
    assert sum(c.rejected_total for c in bridge.counts.values()) == 0
