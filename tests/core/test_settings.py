"""Settings: defaults are the demo; TOML and GRIDPEER_* env vars; placeholders refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gridpeer.core.settings import is_placeholder, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "community.example.toml"


def test_defaults_are_the_embedded_demo() -> None:
    s = load_settings()
    assert s.houses == 5 and s.web.port == 8000 and s.mqtt.embedded
    assert s.chain.rpc_url == "embedded" and s.store_url is None


def test_toml_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "c.toml"
    f.write_text('community = "lab"\nhouses = 7\n[web]\nport = 9000\n')
    monkeypatch.setenv("GRIDPEER_WEB__PORT", "9100")
    s = load_settings(f)
    assert (s.community, s.houses, s.web.port) == ("lab", 7, 9100)


def test_example_config_is_refused_until_secrets_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValidationError) as err:
        load_settings(EXAMPLE)
    assert "placeholder" in str(err.value)
    monkeypatch.setenv("GRIDPEER_WEB__SESSION_SECRET", "k3y-0f-the-day-" * 3)
    monkeypatch.setenv("GRIDPEER_MQTT__PASSWORD", "s3rvice-pass-" * 3)
    monkeypatch.setenv("GRIDPEER_CHAIN__OPERATOR_KEY", "0x" + "ab" * 32)
    monkeypatch.setenv("GRIDPEER_STORE_URL", "postgresql://gridpeer:pw-4-db@127.0.0.1/gp")
    monkeypatch.setenv("GRIDPEER_ACCOUNTS", '[{"id": "h1", "mqtt_password": "h1-pass-xyz"}]')
    s = load_settings(EXAMPLE)
    assert not s.mqtt.embedded and s.chain.rpc_url.startswith("http://")


@pytest.mark.parametrize("value", ["", "CHANGE-ME", "changeme", "<your key>", "xxxx"])
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


def test_bad_values_named(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('store_url = "mysql://x"\n[chain]\nrpc_url = "ganache"\n')
    with pytest.raises(ValidationError) as err:
        load_settings(f)
    text = str(err.value)
    assert "store_url" in text and "chain.rpc_url" in text
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")
