"""TLS settings of gridpeer's MQTT clients: from ``[mqtt]`` (serve) and from the command
line (oracle, delivery-agent); credentials never drop TLS."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gridpeer.core.mqtt import BrokerAddress, MqttTls, mqtt_tls
from gridpeer.core.settings import MqttSettings


def test_settings_give_the_services_a_verifying_address(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    m = MqttSettings(
        embedded=False, port=8883, username="svc", password="p-4x9", tls=True, ca_file=ca
    )
    address = m.address()
    assert address == BrokerAddress("127.0.0.1", 8883, "svc", "p-4x9", MqttTls(str(ca)))
    assert address.as_user("h1", "h1-pw").tls == MqttTls(str(ca))
    assert address.with_credentials(None) is address
    assert MqttSettings(port=1883).address().tls is None  # plain TCP unless tls = true
    assert MqttSettings(tls=True).address().tls == MqttTls(None)  # the system's CAs


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ca_file": "ca.crt"}, "need mqtt.tls = true"),
        ({"tls": True, "cert_file": "c.crt"}, "go together"),
        ({"message_size_limit": 10_000_000_000}, "less than or equal"),
    ],
)
def test_inconsistent_tls_settings_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MqttSettings.model_validate(values)


def test_command_line_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert mqtt_tls(False, None) is None
    assert mqtt_tls(True, None) == MqttTls(None)
    assert mqtt_tls(False, str(ca)) == MqttTls(str(ca))  # a CA implies TLS
    with pytest.raises(SystemExit, match="not found"):
        mqtt_tls(False, str(tmp_path / "missing.crt"))
    with pytest.raises(SystemExit, match="go together"):
        mqtt_tls(False, str(ca), cert_file=str(ca))


def test_a_context_verifies_the_server(tmp_path: Path) -> None:
    from gridpeer.telemetry.broker_tls import ensure_ca

    ensure_ca(tmp_path, "lab")
    ctx = MqttTls(str(tmp_path / "ca.crt")).context()
    assert ctx.check_hostname and ctx.verify_mode.name == "CERT_REQUIRED"
    assert ctx.minimum_version.name == "TLSv1_2"
