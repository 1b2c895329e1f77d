"""Several houses' device bridges on one shared MQTT session (real Mosquitto, emulated
Tasmota and Shelly devices): each house sees only its own devices, its readings are
republished under its own topic, the Shellys' RPC answers (all on the session's one
answer topic) reach the house of their ``src``, and a house that stops receives nothing
more while the others go on."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from gridpeer.core.mqtt import MqttClient
from gridpeer.devices.emulators.base import Channel, constant
from gridpeer.devices.emulators.shelly import ShellyEmulator
from gridpeer.devices.emulators.tasmota import TasmotaEmulator
from gridpeer.telemetry.adapters.bridge import DeviceBridge
from gridpeer.telemetry.adapters.config import DeviceConfig
from gridpeer.telemetry.adapters.session import DeviceSession
from gridpeer.telemetry.broker import MosquittoBroker

SHELLY_A, SHELLY_B = "shellyplus1pm-aaaa", "shellyplus1pm-bbbb"


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


def test_routing_table_refuses_a_device_of_two_houses() -> None:
    """A relay has one driver: the same device topic in two houses of a session is
    refused; a house attaching its own topics again is fine."""
    from gridpeer.core.mqtt import BrokerAddress

    session = DeviceSession(BrokerAddress("127.0.0.1", 1), "gp-s")
    got: list[tuple[str, str]] = []
    a = lambda t, p: got.append(("a", t))  # noqa: E731
    b = lambda t, p: got.append(("b", t))  # noqa: E731
    session.attach(a, ["tele/plug/SENSOR", "sh-a/status/+"], rpc_sources=["sh-a"])
    session.attach(a, ["tele/plug/SENSOR"])  # idempotent
    with pytest.raises(ValueError, match="already another house"):
        session.attach(b, ["tele/plug/SENSOR"])
    with pytest.raises(ValueError, match="already another house"):
        session.attach(b, ["x/y"], rpc_sources=["sh-a"])
    with pytest.raises(ValueError, match="unsupported"):
        session.attach(b, ["tele/#"])
    session.attach(b, ["tele/plug-b/SENSOR"])
    session._dispatch("tele/plug/SENSOR", b"{}")
    session._dispatch("sh-a/status/switch:0", b"{}")
    session._dispatch("gp-s/rpc", b'{"id": 1, "src": "sh-a"}')
    session._dispatch("gp-s/rpc", b'{"id": 1, "src": "nobody"}')
    session._dispatch("gp-s/rpc", b"not json")
    session._dispatch("tele/plug-b/SENSOR", b"{}")
    assert got == [
        ("a", "tele/plug/SENSOR"),
        ("a", "sh-a/status/switch:0"),
        ("a", "gp-s/rpc"),
        ("b", "tele/plug-b/SENSOR"),
    ]
    assert session.unrouted == 2
    session.detach(a)
    session._dispatch("tele/plug/SENSOR", b"{}")
    assert session.unrouted == 3
    assert "gp-s/rpc" in session.link.subscriptions  # one answer topic for all Shellys


@pytest.mark.mosquitto
def test_two_houses_on_one_session_keep_their_own_devices(
    mosquitto: MosquittoBroker, stop_all: list[object]
) -> None:
    host, port = mosquitto.address.host, mosquitto.address.port
    plug = TasmotaEmulator("plug-a", host, port, [Channel(constant(1500.0))], tele_period_s=0.5)
    shelly_a = ShellyEmulator(SHELLY_A, host, port, "plus1pm", [Channel(constant(900.0))], 0.3)
    shelly_b = ShellyEmulator(SHELLY_B, host, port, "plus1pm", [Channel(constant(2000.0))], 0.3)
    emulators: list[TasmotaEmulator | ShellyEmulator] = [plug, shelly_a, shelly_b]
    for e in emulators:
        e.start()
        stop_all.append(e)
    meters: dict[str, list[float]] = {"a": [], "b": []}
    watcher = MqttClient(
        "watcher",
        mosquitto.address,
        subscriptions=["gridpeer/lab/+/meter/reading"],
        on_message=lambda t, p: meters[t.split("/")[2]].append(json.loads(p)["p"]),
    )
    watcher.start()
    stop_all.append(watcher)

    session = DeviceSession(mosquitto.address, "gp-devices-lab")
    a = DeviceBridge.on_session(
        session,
        [
            DeviceConfig(kind="tasmota", topic="plug-a", role="house"),
            DeviceConfig(kind="shelly-plus1pm", topic=SHELLY_A, role="out"),
        ],
        "lab",
        "a",
    )
    b = DeviceBridge.on_session(
        session, [DeviceConfig(kind="shelly-plus1pm", topic=SHELLY_B, role="out")], "lab", "b"
    )
    a.start()
    b.start()
    stop_all.append(b)
    assert session.users == 2 and session.link.connects == 1  # one connection for both

    # each house gets its own devices' readings (the Shellys' GetStatus answers, all on
    # gp-devices-lab/rpc, reached the house of their src)
    wait(lambda: a.reading(SHELLY_A, 0) is not None, "house a's Shelly")
    wait(lambda: b.reading(SHELLY_B, 0) is not None, "house b's Shelly")
    wait(lambda: a.reading("plug-a", 0) is not None, "house a's plug")
    assert set(a.counts) == {"plug-a", SHELLY_A} and set(b.counts) == {SHELLY_B}
    assert {k[0] for k in a.latest} <= {"plug-a", SHELLY_A}
    assert {k[0] for k in b.latest} == {SHELLY_B}

    # relay commands per device: b's relay closes, a's stays open
    assert b.set_relay(SHELLY_B, 0, True, wait_s=2.0)
    wait(lambda: (b.relay(SHELLY_B, 0) or (False, 0.0))[0], "b's confirmation")
    wait(
        lambda: (s := b.reading(SHELLY_B, 0)) is not None and s.reading.power_w == 2000.0,
        "b's 2000 W",
    )
    assert (a.relay(SHELLY_A, 0) or (False, 0.0))[0] is False
    assert not shelly_a.channels[0].relay_on and shelly_b.channels[0].relay_on

    # house a's grid meter (the plug) is republished under a's topic only
    assert a.set_relay("plug-a", 0, True, wait_s=2.0)
    wait(lambda: 1500.0 in meters["a"], "a's meter reading republished")
    assert meters["b"] == [] and b.republished == 0 and a.republished >= 1

    # house a stops: it receives nothing more; b goes on on the same connection
    a.stop()
    assert session.users == 1 and session.link.connected.is_set()
    frozen = a.counts["plug-a"].received
    seen_b = b.counts[SHELLY_B].received
    wait(lambda: b.counts[SHELLY_B].received > seen_b + 2, "b's notifications go on")
    wait(lambda: session.unrouted > 2, "a's devices still publishing; nobody takes them")
    assert a.counts["plug-a"].received == frozen
    b.stop()
    stop_all.remove(b)
    assert session.users == 0 and not session.link.connected.is_set()
