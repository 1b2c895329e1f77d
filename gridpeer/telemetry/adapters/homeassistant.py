"""Home Assistant MQTT discovery for the houses' gridpeer telemetry.

Home Assistant ("MQTT discovery", https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery)
creates an entity for every retained config on
``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` and deletes it when that
config is replaced by an empty retained payload; it announces itself with its *birth
message* (``online`` on ``homeassistant/status``), after which configs are published
again. Each sensor here reads gridpeer's own reading topic
(``gridpeer/<community>/<house>/<device>/reading``) with a ``value_template``, so no
extra state messages are needed, and carries the ``device_class`` / ``state_class`` /
unit that the energy dashboard needs (energy: ``total_increasing`` in Wh). With
``p2p_currency`` each house also gets P2P bought / sold energy (``total_increasing``, Wh)
and its balance (``monetary``, ``total``, in the currency) over its retained P2P totals
(``gridpeer/<community>/<house>/p2p/state``, :mod:`gridpeer.telemetry.p2p_state`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gridpeer.core.mqtt import BrokerAddress, MqttClient, MqttTls
from gridpeer.telemetry.p2p_state import p2p_topic
from gridpeer.telemetry.schemas import Device
from gridpeer.telemetry.topics import reading_topic

log = logging.getLogger(__name__)

BIRTH_TOPIC = "homeassistant/status"


@dataclass(frozen=True)
class SensorSpec:
    """One Home Assistant sensor over one field of a gridpeer reading."""

    object_id: str
    name: str
    device: Device
    template: str
    unit: str
    device_class: str
    state_class: str


SENSORS: tuple[SensorSpec, ...] = (
    SensorSpec(
        "power", "Consumption", Device.METER, "{{ value_json.p }}", "W", "power", "measurement"
    ),
    SensorSpec(
        "energy",
        "Consumption energy",
        Device.METER,
        "{{ value_json.e_wh }}",
        "Wh",
        "energy",
        "total_increasing",
    ),
    SensorSpec(
        "grid_power",
        "Grid power",
        Device.METER,
        "{{ value_json.p_grid }}",
        "W",
        "power",
        "measurement",
    ),
    SensorSpec(
        "voltage",
        "Mains voltage",
        Device.METER,
        "{{ value_json.v }}",
        "V",
        "voltage",
        "measurement",
    ),
    SensorSpec(
        "pv_power", "PV power", Device.PV, "{{ value_json.p }}", "W", "power", "measurement"
    ),
    SensorSpec(
        "battery_power",
        "Battery power",
        Device.BESS,
        "{{ value_json.p }}",
        "W",
        "power",
        "measurement",
    ),
    SensorSpec(
        "battery_soc",
        "Battery state of charge",
        Device.BESS,
        "{{ (value_json.soc * 100) | round(1) }}",
        "%",
        "battery",
        "measurement",
    ),
)
"""The sensors of a house, by the devices it has (meter always; PV and battery if any)."""

P2P_SENSORS: tuple[tuple[str, str, str, str, str, str], ...] = (
    # object id, name, template, unit (None: the currency), device class, state class
    ("p2p_bought", "P2P energy bought", "{{ value_json.bought_wh }}", "Wh", "energy",
     "total_increasing"),
    ("p2p_sold", "P2P energy sold", "{{ value_json.sold_wh }}", "Wh", "energy",
     "total_increasing"),
    ("p2p_balance", "P2P balance", "{{ value_json.balance }}", "", "monetary", "total"),
)  # fmt: skip
"""The P2P trading sensors of a house, over its retained totals
(:mod:`gridpeer.telemetry.p2p_state`): bought and sold energy for the energy dashboard,
and the balance (earned minus paid) in the community's currency."""


def discovery_configs(
    community: str,
    house: str,
    devices: Iterable[Device],
    prefix: str = "homeassistant",
    p2p_currency: str | None = None,
) -> dict[str, str]:
    """{config topic: JSON config} of one house's sensors (pure); with ``p2p_currency``
    also its P2P bought / sold energy and balance (in that currency)."""
    have = set(devices)
    node = f"gridpeer_{community}_{house}"
    rows = [
        (s.object_id, s.name, reading_topic(community, house, s.device), s.template, s.unit,
         s.device_class, s.state_class)
        for s in SENSORS
        if s.device in have
    ]  # fmt: skip
    if p2p_currency is not None:
        rows += [
            (oid, name, p2p_topic(community, house), tpl, unit or p2p_currency, dc, sc)
            for oid, name, tpl, unit, dc, sc in P2P_SENSORS
        ]
    out: dict[str, str] = {}
    for object_id, name, topic, template, unit, device_class, state_class in rows:
        config = {
            "name": name,
            "unique_id": f"{node}_{object_id}",
            "object_id": f"{node}_{object_id}",
            "state_topic": topic,
            "value_template": template,
            "unit_of_measurement": unit,
            "device_class": device_class,
            "state_class": state_class,
            "device": {
                "identifiers": [node],
                "name": f"gridpeer {community} {house}",
                "manufacturer": "gridpeer",
                "model": "house",
            },
        }
        out[f"{prefix}/sensor/{node}/{object_id}/config"] = json.dumps(config)
    return out


class HomeAssistantDiscovery:
    """Publishes (retained) the discovery configs of every house, again on each Home
    Assistant birth message, and removes a house's on request.

    Args:
        host, port: the broker Home Assistant listens to.
        community: community id.
        houses: each house's measured devices (``meter`` always, ``pv``, ``bess``).
        prefix: Home Assistant's discovery prefix.
        credentials: MQTT (user, password).
        tls: TLS to the broker (its certificate verified), None for plain TCP.
        p2p_currency: also the P2P sensors (bought / sold Wh, balance in this currency),
            over the states of :class:`~gridpeer.telemetry.p2p_state.P2PStatePublisher`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        community: str,
        houses: Mapping[str, Iterable[Device]],
        prefix: str = "homeassistant",
        credentials: tuple[str, str] | None = None,
        tls: MqttTls | None = None,
        p2p_currency: str | None = None,
    ) -> None:
        self.community, self.prefix, self.p2p_currency = community, prefix, p2p_currency
        self.houses = {h: set(d) for h, d in houses.items()}
        self.published = 0
        self.link = MqttClient(
            f"gridpeer-ha-{community}",
            BrokerAddress(host, port, tls=tls).with_credentials(credentials),
            subscriptions=[BIRTH_TOPIC],
            on_message=self._on_birth,
        )

    def configs(self) -> dict[str, str]:
        """Every house's configs."""
        out: dict[str, str] = {}
        for house, devices in self.houses.items():
            out |= discovery_configs(self.community, house, devices, self.prefix, self.p2p_currency)
        return out

    def publish_all(self, wait_s: float = 0.0) -> None:
        """Publish every config, retained (QoS 1)."""
        for topic, body in self.configs().items():
            self.link.publish(topic, body, retain=True, timeout=wait_s)
            self.published += 1

    def _on_birth(self, topic: str, payload: bytes) -> None:
        if payload.strip() == b"online":
            log.info("Home Assistant is online: publishing discovery configs")
            self.publish_all()

    def remove(self, house: str, wait_s: float = 2.0) -> None:
        """Delete a house's entities in Home Assistant (empty retained configs)."""
        devices = self.houses.pop(house, set())
        configs = discovery_configs(self.community, house, devices, self.prefix, self.p2p_currency)
        for topic in configs:
            self.link.publish(topic, b"", retain=True, timeout=wait_s)

    def start(self) -> None:
        """Connect and publish every config."""
        self.link.start()
        self.publish_all(wait_s=2.0)

    def stop(self) -> None:
        """Disconnect (the retained configs stay)."""
        self.link.stop()
