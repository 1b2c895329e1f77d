"""Delivery agents metering from emulated Shelly and Tasmota devices through a real
Mosquitto: the relay closes, the target Wh is delivered, the relay opens again, and the
agent never reports more than the device metered."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import BrokerAddress, MqttClient
from gridpeer.devices.emulators.base import Channel, constant
from gridpeer.devices.emulators.shelly import ShellyEmulator
from gridpeer.devices.emulators.tasmota import TasmotaEmulator
from gridpeer.hems.delivery_agent import DeliveryAgent
from gridpeer.hems.device_power import DevicePower, device_relays
from gridpeer.telemetry.adapters.bridge import DeviceBridge
from gridpeer.telemetry.adapters.config import DeviceConfig
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import (
    DeliveryCommand,
    DeliveryResult,
    Direction,
    command_topic,
    result_filter,
)
from gridpeer.telemetry.schemas import MeterReading

pytestmark = pytest.mark.mosquitto
SHELLY = "shellyplus1pm-a8032ab12345"


def wait(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Oracle:
    """Stands in for the oracle: sends commands, collects results."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.results: dict[tuple[str, int], DeliveryResult] = {}
        self.link = MqttClient(
            "test-oracle",
            broker.address,
            subscriptions=[result_filter("lab")],
            on_message=self._on_result,
        )
        self.link.start()

    def _on_result(self, topic: str, payload: bytes) -> None:
        if payload:
            r = DeliveryResult.model_validate_json(payload)
            self.results[(r.house, r.trade_id)] = r

    def command(self, house: str, direction: Direction, trade_id: int, wh: int) -> None:
        now = datetime.now(UTC)
        cmd = DeliveryCommand(
            trade_id=trade_id,
            house=house,
            direction=direction,
            target_wh=wh,
            window_start=now - timedelta(seconds=1),
            window_end=now + timedelta(minutes=5),
        )
        assert self.link.publish(command_topic("lab", house), cmd.model_dump_json())


@pytest.fixture
def stack() -> Iterator[list[object]]:
    things: list[object] = []
    yield things
    for t in reversed(things):
        t.stop()  # type: ignore[attr-defined]


def agent(
    broker: MosquittoBroker, house: str, dev: DeviceConfig, tmp: Path, stack: list[object]
) -> DevicePower:
    host, port = broker.address.host, broker.address.port
    bridge = DeviceBridge(host, port, [dev], f"gp-dev-{house}", "lab", house)
    power = DevicePower(bridge, device_relays([dev]), hold_s=1.0, resend_s=0.5)
    power.start()
    stack.append(power)
    a = DeliveryAgent("lab", house, host, port, tmp / f"{house}.db", Clock(), power)
    a.start()
    stack.append(a)
    return power


def test_shelly_out_and_tasmota_in_deliver_the_target(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: list[object]
) -> None:
    host, port = mosquitto.address.host, mosquitto.address.port
    shelly = ShellyEmulator(
        SHELLY, host, port, "plus1pm", [Channel(constant(3600.0))], notify_period_s=0.2
    )
    plug = TasmotaEmulator(
        "p2p-h2", host, port, [Channel(constant(3600.0))], tele_period_s=1.0, power_delta_w=20
    )
    for d in (shelly, plug):
        d.start()
        stack.append(d)
    oracle = Oracle(mosquitto)
    stack.append(oracle.link)
    agent(
        mosquitto,
        "h1",
        DeviceConfig(kind="shelly-plus1pm", topic=SHELLY, role="out"),
        tmp_path,
        stack,
    )
    agent(mosquitto, "h2", DeviceConfig(kind="tasmota", topic="p2p-h2", role="in"), tmp_path, stack)

    oracle.command("h1", Direction.OUT, 7, 3)  # 3 Wh at 3,600 W: about 3 s
    oracle.command("h2", Direction.IN, 7, 3)
    wait(lambda: len(oracle.results) == 2, "both results")
    out, inn = oracle.results[("h1", 7)], oracle.results[("h2", 7)]
    assert out.reason == inn.reason == "target"
    assert out.measured_wh == inn.measured_wh == 3
    # the relays open again: OUT on release, IN by the dead-man switch
    wait(lambda: not shelly.channels[0].relay_on and not plug.channels[0].relay_on, "relays open")
    assert shelly.channels[0].energy_wh >= out.measured_wh  # never more than metered
    assert plug.channels[0].energy_wh >= inn.measured_wh


def test_silent_device_credits_nothing(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: list[object]
) -> None:
    """The relay confirms, but the meter goes silent: the reading goes stale and the
    delivery stops counting instead of integrating the last power for ever."""
    host, port = mosquitto.address.host, mosquitto.address.port
    plug = TasmotaEmulator(
        "p2p-h3", host, port, [Channel(constant(3600.0))], tele_period_s=3600.0, power_delta_w=20
    )
    plug.start()
    stack.append(plug)
    dev = DeviceConfig(kind="tasmota", topic="p2p-h3", role="out")
    bridge = DeviceBridge(host, port, [dev], "gp-dev-h3")
    # power metering (the counter path is in test_device_power_unit.py)
    power = DevicePower(bridge, device_relays([dev]), stale_s=1.0, hold_s=5.0, counters=False)
    power.start()
    stack.append(power)
    now = datetime.now(UTC)
    wait(lambda: power.power_w(Direction.OUT, now, {1: 1.0}) == 3600.0, "power through the relay")
    time.sleep(1.2)  # no SENSOR since the relay closed: the reading is stale
    assert power.power_w(Direction.OUT, now, {1: 1.0}) == 0.0
    power.release(1)
    wait(lambda: not plug.channels[0].relay_on, "relay opened on release")


def test_cli_refuses_no_meter_and_runs_on_an_emulated_tasmota(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: list[object]
) -> None:
    host, port = mosquitto.address.host, mosquitto.address.port
    base = [
        sys.executable,
        "-m",
        "gridpeer.cli",
        "delivery-agent",
        "--community",
        "lab",
        "--port",
        str(port),
        "--state",
        str(tmp_path / "h4.db"),
        "--house",
        "h4",
    ]
    refused = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--simulated-meter" in refused.stderr
    plug = TasmotaEmulator(
        "p2p-h4", host, port, [Channel(constant(3600.0))], tele_period_s=1.0, power_delta_w=20
    )
    plug.start()
    stack.append(plug)
    oracle = Oracle(mosquitto)
    stack.append(oracle.link)
    cfg = tmp_path / "community.toml"
    cfg.write_text(
        '[[accounts]]\nid = "h4"\n\n[[accounts.devices]]\nkind = "tasmota"\n'
        'topic = "p2p-h4"\nrole = "out"\n'
    )
    proc = subprocess.Popen([*base, "--config", str(cfg)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and "ready" in proc.stdout.readline()
        oracle.command("h4", Direction.OUT, 11, 2)
        wait(lambda: ("h4", 11) in oracle.results, "the CLI agent's result")
        assert oracle.results[("h4", 11)].measured_wh == 2
    finally:
        proc.terminate()
        proc.wait(30)
    wait(lambda: not plug.channels[0].relay_on, "relay open after the agent stopped")


def test_relay_metered_by_the_house_gridpeer_telemetry(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: list[object]
) -> None:
    """A relay without its own meter: the delivery is the house's export (OUT) seen
    by its gridpeer meter readings; bad readings are rejected and counted."""
    host, port = mosquitto.address.host, mosquitto.address.port
    plug = TasmotaEmulator("relay-h6", host, port, [Channel(constant(0.0))])
    plug.start()
    stack.append(plug)
    dev = DeviceConfig(kind="tasmota", topic="relay-h6", role="out", meter="telemetry")
    bridge = DeviceBridge(host, port, [dev], "gp-dev-h6", "lab", "h6")
    power = DevicePower(bridge, device_relays([dev]))
    power.start()
    stack.append(power)
    node = MqttClient("pico-h6", BrokerAddress(host, port))
    node.start()
    stack.append(node)
    topic = "gridpeer/lab/h6/meter/reading"
    reading = MeterReading(ts=datetime.now(UTC), v=230.0, i=8.0, p=200.0, e_wh=10, p_grid=-1800.0)
    assert node.publish(topic, reading.model_dump_json())
    assert node.publish(topic, b'{"ts": "yesterday"}')
    now = datetime.now(UTC)
    wait(lambda: power.power_w(Direction.OUT, now, {5: 1.0}) == 1800.0, "the house's export")
    assert plug.channels[0].relay_on
    assert bridge.telemetry_counts.accepted == 1
    assert bridge.telemetry_counts.rejected_total == 1
    assert power.power_w(Direction.IN, now, {6: 1.0}) == 0.0  # no IN relay


def test_counter_metering_survives_a_tasmota_power_cut_and_a_shelly_reboot(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: list[object]
) -> None:
    """Mid-delivery the plug loses power (its Total rolls back to the last flash save) and
    the Shelly reboots (its aenergy.total restarts at 0): both relays open, close again,
    and each delivery is counted from the counters without counting anything twice."""
    host, port = mosquitto.address.host, mosquitto.address.port
    shelly = ShellyEmulator(
        SHELLY, host, port, "plus1pm", [Channel(constant(7200.0))], notify_period_s=0.2
    )
    plug = TasmotaEmulator(
        "p2p-h2", host, port, [Channel(constant(7200.0))], tele_period_s=1.0, power_delta_w=20
    )
    for d in (shelly, plug):
        d.start()
        stack.append(d)
    oracle = Oracle(mosquitto)
    stack.append(oracle.link)
    agent(
        mosquitto,
        "h1",
        DeviceConfig(kind="shelly-plus1pm", topic=SHELLY, role="out"),
        tmp_path,
        stack,
    )
    agent(mosquitto, "h2", DeviceConfig(kind="tasmota", topic="p2p-h2", role="in"), tmp_path, stack)
    oracle.command("h1", Direction.OUT, 9, 14)  # 14 Wh at 7.2 kW: 7 s plus the outages
    oracle.command("h2", Direction.IN, 9, 14)
    wait(lambda: shelly.channels[0].energy_wh > 4 and plug.channels[0].energy_wh > 4, "flow")
    lost: dict[str, float] = {}
    for name, dev in (("shelly", shelly), ("plug", plug)):
        ch = dev.channels[0]
        with dev._lock:  # the energy metered up to the outage
            ch.step(dev.now())
            before = ch.energy_wh
        dev.reboot() if isinstance(dev, ShellyEmulator) else dev.power_cut()
        lost[name] = before - ch.energy_wh  # what the device's counter forgot (about)
    wait(lambda: len(oracle.results) == 2, "both results")
    out, inn = oracle.results[("h1", 9)], oracle.results[("h2", 9)]
    assert out.measured_wh == inn.measured_wh == 14 and out.reason == inn.reason == "target"
    wait(lambda: not shelly.channels[0].relay_on and not plug.channels[0].relay_on, "relays open")
    # what really flowed through each relay is at least what was reported
    assert shelly.channels[0].energy_wh + lost["shelly"] >= out.measured_wh
    assert plug.channels[0].energy_wh + lost["plug"] >= inn.measured_wh


def test_a_shelly_pro_em_relay_delivers_metered_by_its_em1data_counter(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: list[object]
) -> None:
    """A Pro EM: switch:0 switches the P2P line, em1:0's CT meters it (em1data:0 counts
    the Wh); em1:1 (the grid connection) flows all the time and is not the delivery."""
    host, port = mosquitto.address.host, mosquitto.address.port
    proem = ShellyEmulator(
        "shellyproem50-h5",
        host,
        port,
        "proem",
        [Channel(constant(7200.0)), Channel(constant(5000.0))],
        notify_period_s=0.2,
    )
    proem.start()
    stack.append(proem)
    oracle = Oracle(mosquitto)
    stack.append(oracle.link)
    dev = DeviceConfig(kind="shelly-proem", topic="shellyproem50-h5", role="out")
    agent(mosquitto, "h5", dev, tmp_path, stack)
    oracle.command("h5", Direction.OUT, 11, 6)  # 6 Wh at 7.2 kW: 3 s
    wait(lambda: ("h5", 11) in oracle.results, "the result")
    r = oracle.results[("h5", 11)]
    assert r.measured_wh == 6 and r.reason == "target"
    wait(lambda: not proem.channels[0].relay_on, "relay opened")
    assert proem.channels[0].energy_wh >= 6  # never more than em1:0 metered
    assert proem.channels[1].relay_on  # the other channel is behind no relay
