"""Command-line options several gridpeer commands share, declared once: how a standalone
process (``oracle``, ``delivery-agent``) reaches the MQTT broker. Turn them into settings
with :func:`gridpeer.core.mqtt.mqtt_tls` and :func:`gridpeer.core.mqtt.mqtt_credentials`."""

from __future__ import annotations

from typing import Annotated

import typer

MqttUser = Annotated[
    str | None,
    typer.Option(help="MQTT user (its password from GRIDPEER_MQTT_PASSWORD)."),
]
MqttTlsFlag = Annotated[
    bool, typer.Option("--mqtt-tls", help="TLS to the broker, verified with the system's CAs.")
]
MqttCa = Annotated[
    str | None,
    typer.Option(help="TLS to the broker, verified with this CA (PEM; broker-config's ca.crt)."),
]
MqttCert = Annotated[
    str | None, typer.Option(help="Client certificate (PEM), if the broker requires one.")
]
MqttKey = Annotated[str | None, typer.Option(help="The client certificate's key (PEM).")]
