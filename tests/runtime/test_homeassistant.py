"""Home Assistant discovery from serve's config through a real Mosquitto: the configs of
every house (with its PV, battery and P2P sensors) retained, published again on Home
Assistant's birth message, and a house's entities removed by `gridpeer homeassistant
remove`; the broker ACL lets the services account write the discovery prefix."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gridpeer.cli import app
from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import MqttClient
from gridpeer.core.settings import load_settings
from gridpeer.runtime.composition import Parts
from gridpeer.runtime.homeassistant import homeassistant, house_devices
from gridpeer.telemetry.broker import MosquittoBroker, write_acl


def community(tmp: Path, port: int, enabled: bool = True) -> Path:
    path = tmp / "community.toml"
    path.write_text(
        'community = "villa"\n'
        f'[mqtt]\nembedded = false\nhost = "127.0.0.1"\nport = {port}\n'
        f"[homeassistant]\nenabled = {'true' if enabled else 'false'}\n"
        '[[accounts]]\nid = "h1"\nkind = "pv_bess"\npv_kwp = 3.0\nbess_kwh = 5.0\n'
        '[[accounts]]\nid = "h2"\n'
    )
    return path


class Seen:
    def __init__(self, mosquitto: MosquittoBroker) -> None:
        self.configs: dict[str, bytes] = {}
        self.count = 0
        self.lock = threading.Lock()
        self.client = MqttClient(
            "ha-listener",
            mosquitto.address,
            subscriptions=["homeassistant/sensor/#"],
            on_message=self.on,
            clean_session=True,
        )

    def on(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.configs[topic] = payload
            self.count += 1

    def wait(self, cond: object, what: str) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with self.lock:
                if cond():  # type: ignore[operator]
                    return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


def test_devices_follow_the_config(tmp_path: Path) -> None:
    s = load_settings(community(tmp_path, 1883))
    assert {h: [d.value for d in ds] for h, ds in house_devices(s).items()} == {
        "h1": ["meter", "pv", "bess"],
        "h2": ["meter"],
    }


def test_the_acl_lets_the_services_write_the_discovery_prefix(tmp_path: Path) -> None:
    write_acl(tmp_path / "acl", "villa", {"h1": "p"}, {"services": "q"}, None, ["ha/#"])
    text = (tmp_path / "acl").read_text()
    assert "user services\ntopic readwrite gridpeer/villa/#\ntopic readwrite ha/#" in text
    assert "user h1\ntopic readwrite gridpeer/villa/h1/#\n\n" in text  # houses: not


@pytest.mark.mosquitto
async def test_serve_publishes_republishes_on_birth_and_removes(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = community(tmp_path, mosquitto.address.port)
    settings = load_settings(config)
    parts = Parts(settings, Clock(), tmp_path, [], [], broker=settings.mqtt.address())
    seen = Seen(mosquitto)
    seen.client.start()
    try:
        async with homeassistant(parts):
            await asyncio.to_thread(seen.wait, lambda: len(seen.configs) >= 17, "the configs")
            h1 = {t.split("/")[-2] for t in seen.configs if "/gridpeer_villa_h1/" in t}
            h2 = {t.split("/")[-2] for t in seen.configs if "/gridpeer_villa_h2/" in t}
            assert {"energy", "pv_power", "battery_soc", "p2p_bought", "p2p_balance"} <= h1
            assert not any(o.startswith(("pv", "battery")) for o in h2)  # h2 has neither
            assert {"energy", "p2p_bought", "p2p_sold", "p2p_balance"} <= h2
            h2_configs = [v for t, v in seen.configs.items() if "/gridpeer_villa_h2/" in t]
            body = json.loads(h2_configs[0])
            assert body["state_topic"].startswith("gridpeer/villa/h2/")
            before = seen.count
            birth = MqttClient("home-assistant", mosquitto.address, clean_session=True)
            birth.start()
            assert birth.publish("homeassistant/status", "online")
            birth.stop()
            await asyncio.to_thread(
                seen.wait, lambda: seen.count >= before + len(h1) + len(h2), "republished"
            )
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["homeassistant", "remove", "-c", str(config), "--house", "h2"]
        )
        assert result.exit_code == 0, result.output
        await asyncio.to_thread(
            seen.wait,
            lambda: all(v == b"" for t, v in seen.configs.items() if "/gridpeer_villa_h2/" in t),
            "h2's configs emptied",
        )
        assert all(v for t, v in seen.configs.items() if "/gridpeer_villa_h1/" in t)  # h1 stays
    finally:
        seen.client.stop()


@pytest.mark.mosquitto
async def test_disabled_publishes_nothing(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    settings = load_settings(community(tmp_path, mosquitto.address.port, enabled=False))
    parts = Parts(settings, Clock(), tmp_path, [], [], broker=settings.mqtt.address())
    seen = Seen(mosquitto)
    seen.client.start()
    try:
        async with homeassistant(parts):
            await asyncio.sleep(1.0)
        assert seen.configs == {}
    finally:
        seen.client.stop()
