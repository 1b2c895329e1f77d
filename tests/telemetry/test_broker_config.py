"""``gridpeer broker-config`` writes a Mosquitto config a real Mosquitto runs: every house
has its own password and can use only its own topics; the services account sees all."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gridpeer.telemetry.broker import wait_for_port
from tests.services import mosquitto_tls
from tests.services.ports import free_port

pytestmark = pytest.mark.mosquitto
PASSWORDS = {**mosquitto_tls.PASSWORDS, "h2": "h2-secret-7c"}


def _toml(path: Path, port: int, with_h2_password: bool = True) -> Path:
    h2 = f'mqtt_password = "{PASSWORDS["h2"]}"' if with_h2_password else ""
    h1_plug_and_h2 = f"""[[accounts.devices]]
kind = "tasmota"
topic = "plug-h1"
role = "house"
[[accounts]]
id = "h2"
{h2}
"""
    return mosquitto_tls.community_toml(path, port, None, h1_plug_and_h2)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridpeer.cli", "broker-config", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


class _Client:
    def __init__(self, port: int, user: str, password: str, client_id: str = "") -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.connected = threading.Event()
        self.rc: object = None
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{user}")
        self.c.username_pw_set(user, password)
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload)))

        def on_connect(c: object, u: object, flags: object, rc: object, p: object) -> None:
            self.rc = rc
            self.connected.set()

        self.c.on_connect = on_connect
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.connected.wait(10)

    @property
    def accepted(self) -> bool:
        return self.connected.is_set() and not getattr(self.rc, "is_failure", True)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def test_generated_config_gives_each_house_only_its_own_topics(tmp_path: Path) -> None:
    port = free_port()
    out = _cli("--config", str(_toml(tmp_path / "c.toml", port)), "--out", str(tmp_path / "mq"))
    assert out.returncode == 0, out.stderr
    conf = tmp_path / "mq" / "mosquitto.conf"
    passwd = (tmp_path / "mq" / "passwd").read_text()
    assert all(pw not in passwd for pw in PASSWORDS.values())  # hashed, never in clear
    assert oct((tmp_path / "mq" / "passwd").stat().st_mode & 0o777) == "0o600"
    if os.geteuid() == 0:  # as root Mosquitto would switch to its own user and lose the dir
        conf.write_text(conf.read_text() + "user root\n")
    broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)])
    clients: list[_Client] = []
    try:
        assert wait_for_port("127.0.0.1", port, 10)
        services = _Client(port, "services", PASSWORDS["services"])
        h1 = _Client(port, "h1", PASSWORDS["h1"])
        h2 = _Client(port, "h2", PASSWORDS["h2"])
        intruder = _Client(port, "h1", "wrong-password")
        plug = _Client(port, "h1", PASSWORDS["h1"], client_id="plug-h1")  # h1's smart plug
        clients += [services, h1, h2, intruder, plug]
        assert services.accepted and h1.accepted and h2.accepted and plug.accepted
        assert not intruder.accepted
        services.c.subscribe("gridpeer/villa/#", qos=1)
        h1.c.subscribe("gridpeer/villa/h2/#", qos=1)  # another house's topics: denied
        plug.c.subscribe("cmnd/plug-h1/#", qos=1)  # the plug's own topics, on h1's account
        h2.c.subscribe("gridpeer/villa/h2/#", qos=1)
        time.sleep(0.5)
        h2.c.publish("gridpeer/villa/h2/meter/reading", b"h2-own", qos=1).wait_for_publish(5)
        h1.c.publish("gridpeer/villa/h1/meter/reading", b"h1-own", qos=1).wait_for_publish(5)
        h1.c.publish("gridpeer/villa/h2/cmd/delivery", b"h1-forged", qos=1).wait_for_publish(5)
        time.sleep(1.0)
        seen = {p for _, p in services.messages}
        assert seen == {b"h2-own", b"h1-own"}  # the forged command never got through
        assert [p for _, p in h2.messages] == [b"h2-own"]
        assert h1.messages == []
        # h1's agent may switch its plug; h2 cannot
        h2.c.publish("cmnd/plug-h1/POWER", b"h2-forged", qos=1).wait_for_publish(5)
        plug.c.publish("cmnd/plug-h1/POWER", b"ON", qos=1).wait_for_publish(5)
        time.sleep(1.0)
        assert [p for _, p in plug.messages] == [b"ON"]
        # so may the services account (gridpeer agents drives the houses' relays)
        services.c.publish("cmnd/plug-h1/POWER", b"OFF", qos=1).wait_for_publish(5)
        time.sleep(1.0)
        assert [p for _, p in plug.messages] == [b"ON", b"OFF"]
    finally:
        for c in clients:
            c.close()
        broker.terminate()
        broker.wait(10)


def test_missing_passwords_are_named(tmp_path: Path) -> None:
    cfg = _toml(tmp_path / "c.toml", free_port(), with_h2_password=False)
    out = _cli("--config", str(cfg), "--out", str(tmp_path / "mq"))
    assert out.returncode == 2
    assert "h2: mqtt_password" in out.stderr and "h1" not in out.stderr.split("needs")[1]
    assert not (tmp_path / "mq" / "passwd").exists()
