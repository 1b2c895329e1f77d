"""Home Assistant discovery configs: shape (pure), and retained publication,
republication on the birth message and removal through a real Mosquitto."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from gridpeer.core.mqtt import BrokerAddress, MqttClient
from gridpeer.telemetry.adapters.homeassistant import HomeAssistantDiscovery, discovery_configs
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.schemas import Device


def wait(cond: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_configs_for_a_house_with_pv_and_battery() -> None:
    cfg = discovery_configs("lab", "h1", [Device.METER, Device.PV, Device.BESS])
    assert len(cfg) == 7
    energy = json.loads(cfg["homeassistant/sensor/gridpeer_lab_h1/energy/config"])
    assert energy["device_class"] == "energy" and energy["state_class"] == "total_increasing"
    assert energy["unit_of_measurement"] == "Wh"
    assert energy["state_topic"] == "gridpeer/lab/h1/meter/reading"
    assert energy["value_template"] == "{{ value_json.e_wh }}"
    soc = json.loads(cfg["homeassistant/sensor/gridpeer_lab_h1/battery_soc/config"])
    assert soc["unit_of_measurement"] == "%" and soc["device_class"] == "battery"
    assert len(discovery_configs("lab", "h4", [Device.METER])) == 4  # a consumer


@pytest.mark.mosquitto
def test_retained_republished_on_birth_and_removed(mosquitto: MosquittoBroker) -> None:
    host, port = mosquitto.address.host, mosquitto.address.port
    ha = HomeAssistantDiscovery(
        host, port, "lab", {"h1": [Device.METER, Device.PV], "h2": [Device.METER]}
    )
    ha.start()
    got: list[tuple[str, bytes]] = []
    home = MqttClient(
        "fake-ha",
        BrokerAddress(host, port),
        subscriptions=["homeassistant/sensor/#"],
        on_message=lambda t, p: got.append((t, p)),
    )
    try:
        home.start()
        wait(lambda: len(got) == 9, "the retained configs (5 + 4)")
        got.clear()
        home.publish("homeassistant/status", "online")  # Home Assistant restarted
        wait(lambda: len(got) == 9, "configs republished after the birth message")
        got.clear()
        ha.remove("h2")
        wait(lambda: len(got) == 4, "h2's configs emptied")
        assert all(p == b"" and "gridpeer_lab_h2" in t for t, p in got)
    finally:
        home.stop()
        ha.stop()
