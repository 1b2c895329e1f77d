"""A house's devices in the community config."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gridpeer.telemetry.adapters.config import DeviceConfig, house_devices, parse_device
from gridpeer.telemetry.adapters.shelly import ShellyAdapter
from gridpeer.telemetry.adapters.tasmota import TasmotaAdapter


def test_devices_validate_and_build_their_adapters() -> None:
    devs = house_devices(
        [
            {"kind": "shelly-pro3em", "topic": "shellypro3em-c8f09e8a1b2c", "role": "house"},
            {"kind": "tasmota", "topic": "p2p-out-h1", "role": "out", "tz": "America/Santiago"},
        ]
    )
    assert isinstance(devs[0].adapter("gp-h1"), ShellyAdapter)
    plug = devs[1].adapter("gp-h1")
    assert isinstance(plug, TasmotaAdapter) and plug.tz == "America/Santiago"


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "shelly-pro3em", "topic": "x", "role": "out"},  # no relay
        {"kind": "tasmota", "topic": "a/+/b"},  # wildcard
        {"kind": "tasmota", "topic": "x", "tz": "Mars/Olympus"},
        {"kind": "sonoff-cloud", "topic": "x"},
        {"kind": "tasmota", "topic": "x", "colour": "red"},
        {"kind": "shelly-pro3em", "topic": "x", "channel": 4},
    ],
)
def test_bad_entries_are_refused(entry: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DeviceConfig.model_validate(entry)


def test_one_device_per_role() -> None:
    with pytest.raises(ValueError, match="role 'out'"):
        house_devices([{"kind": "tasmota", "topic": t, "role": "out"} for t in ("a", "b")])


def test_command_line_spec() -> None:
    d = parse_device("in=shelly-plus1pm:shellyplus1pm-a8032ab12345:0")
    assert (d.role, d.kind, d.topic, d.channel) == (
        "in",
        "shelly-plus1pm",
        "shellyplus1pm-a8032ab12345",
        0,
    )
    assert parse_device("out=tasmota:plug").channel == 0
    with pytest.raises(ValueError):
        parse_device("tasmota:plug")


def test_community_example_devices_are_valid() -> None:
    import tomllib
    from pathlib import Path

    from gridpeer.core.settings import HouseAccount

    example = Path(__file__).resolve().parents[3] / "community.example.toml"
    doc = tomllib.loads(example.read_text())
    h1 = next(a for a in doc["accounts"] if a["id"] == "h1")
    h1 = {**h1, "mqtt_password": "a-real-secret-for-the-test"}
    devices = house_devices(HouseAccount.model_validate(h1).devices)
    assert {d.role for d in devices} == {"house", "out", "in"}


def test_one_device_may_serve_two_roles_but_as_one_kind() -> None:
    both = house_devices(
        [
            {"kind": "shelly-proem", "topic": "proem", "role": "house", "channel": 1},
            {"kind": "shelly-proem", "topic": "proem", "role": "out", "channel": 0},
        ]
    )
    assert [d.role for d in both] == ["house", "out"]
    with pytest.raises(ValueError, match="twice differently"):
        house_devices(
            [
                {"kind": "shelly-proem", "topic": "x", "role": "house"},
                {"kind": "tasmota", "topic": "x", "role": "out"},
            ]
        )


def test_acl_topics_cover_what_the_adapters_use() -> None:
    from gridpeer.telemetry.adapters.config import acl_topics

    plug = DeviceConfig(kind="tasmota", topic="p2p-h1", role="out")
    assert acl_topics(plug, "gp") == ["tele/p2p-h1/#", "stat/p2p-h1/#", "cmnd/p2p-h1/#"]
    shelly = DeviceConfig(kind="shelly-plus1pm", topic="shellyplus1pm-x", role="in")
    assert acl_topics(shelly, "gp-h1") == ["shellyplus1pm-x/#", "gp-h1/rpc"]


def test_a_pro_em_relay_goes_with_channel_0() -> None:
    import pytest
    from pydantic import ValidationError

    from gridpeer.telemetry.adapters.config import DeviceConfig

    assert DeviceConfig(kind="shelly-proem", topic="p", role="house", channel=1).channel == 1
    with pytest.raises(ValidationError, match="one relay"):
        DeviceConfig(kind="shelly-proem", topic="p", role="out", channel=1)
    with pytest.raises(ValidationError, match="channels 0 and 1"):
        DeviceConfig(kind="shelly-proem", topic="p", role="house", channel=2)
