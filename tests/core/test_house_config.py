"""A house's own view of the community TOML (``load_house_config``): what its delivery
agent reads, validated by the same models as ``serve``'s settings, without needing the
other houses' or the services' secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gridpeer.core.settings import ConfigError, load_house_config, load_settings

CONFIG = """
community = "lab"

[web]
session_secret = "CHANGE-ME"

[mqtt]
embedded = false
host = "10.0.0.2"
port = 8883
username = "gridpeer"
password = "CHANGE-ME"
tls = true
ca_file = "certs/ca.crt"

[[accounts]]
id = "h1"
mqtt_password = "h1-Secret-9f3k2"

[[accounts.devices]]
kind = "tasmota"
topic = "p2p-h1"
role = "out"

[[accounts]]
id = "h2"
mqtt_password = "CHANGE-ME"
"""


def _write(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "community.toml"
    path.write_text(text)
    return path


def test_a_house_reads_its_own_entry_despite_other_placeholders(tmp_path: Path) -> None:
    path = _write(tmp_path)
    with pytest.raises(ValidationError):  # serve needs every secret
        load_settings(path)
    house = load_house_config(path, "h1")
    assert house.community == "lab"
    assert house.account.devices == [{"kind": "tasmota", "topic": "p2p-h1", "role": "out"}]
    broker = house.broker()
    assert (broker.host, broker.port) == ("10.0.0.2", 8883)
    assert (broker.username, broker.password) == ("h1", "h1-Secret-9f3k2")
    assert broker.tls is not None
    assert broker.tls.ca_file == str(tmp_path / "certs" / "ca.crt")  # relative to the TOML


def test_a_house_with_a_placeholder_password_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="mqtt_password"):
        load_house_config(_write(tmp_path), "h2")


def test_an_unknown_house_and_a_bad_community_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'h9' is not in"):
        load_house_config(_write(tmp_path), "h9")
    bad = CONFIG.replace('community = "lab"', 'community = "a b"')
    with pytest.raises(ConfigError, match="community 'a b'"):
        load_house_config(_write(tmp_path, bad), "h1")


def test_serve_settings_take_tls_paths_relative_to_the_config(tmp_path: Path) -> None:
    text = CONFIG.replace('"CHANGE-ME"', '"Jc8v2kQ9xZr4LmN7pT1wYb6HsD3fGa5uEo0iKq8RtVy"')
    settings = load_settings(_write(tmp_path, text))
    assert settings.mqtt.ca_file == tmp_path / "certs" / "ca.crt"
    absolute = text.replace('"certs/ca.crt"', '"/etc/gridpeer/ca.crt"')
    assert load_settings(_write(tmp_path, absolute)).mqtt.ca_file == Path("/etc/gridpeer/ca.crt")
