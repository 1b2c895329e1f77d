"""Mosquitto accounts and ACLs for a served community (``gridpeer broker-config``).

Users: one per house (named like the house, ``[[accounts]] mqtt_password``), allowed to
read and write only ``gridpeer/<community>/<house>/#`` and the topics of the house's own
smart plugs and meters (``[[accounts.devices]]``, which connect with the house's account),
and the services account (``[mqtt] username/password``: ingest, oracle, web) for the whole
community.
"""

from __future__ import annotations

from pathlib import Path

from gridpeer.core.settings import Settings
from gridpeer.telemetry.adapters.config import acl_topics, house_devices
from gridpeer.telemetry.broker import mosquitto_conf, write_acl, write_passwords


def broker_users(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """(house user → password, services user → password) from the settings.

    Raises:
        ValueError: a password is missing (names every one).
    """
    accounts = settings.accounts
    missing = [f"[[accounts]] {a.id}: mqtt_password" for a in accounts if not a.mqtt_password]
    m = settings.mqtt
    if not m.username or not m.password:
        missing.insert(0, "[mqtt] username and password (the services account)")
    if not settings.accounts:
        missing.append("[[accounts]] (the houses)")
    if missing:
        raise ValueError("the broker config needs " + "; ".join(missing))
    houses = {a.id: a.mqtt_password.get_secret_value() for a in accounts if a.mqtt_password}
    assert m.username is not None and m.password is not None
    if m.username in houses:
        raise ValueError(f"[mqtt] username {m.username!r} is also a house id")
    return houses, {m.username: m.password.get_secret_value()}


def write_broker_config(settings: Settings, out: Path) -> Path:
    """Write ``out/passwd`` (hashed, mode 600), ``out/acl`` and ``out/mosquitto.conf``
    (listener ``[mqtt] host:port``, persistence in ``out``); returns the config's path.

    Raises:
        ValueError: a password is missing, or the port is 0.
    """
    houses, services = broker_users(settings)
    if settings.mqtt.port == 0:
        raise ValueError("[mqtt] port must be set (the broker's listening port)")
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    write_passwords(out / "passwd", {**houses, **services})
    devices = {
        a.id: [
            t
            for d in house_devices(a.devices)
            for t in acl_topics(d, f"gridpeer-dev-{settings.community}-{a.id}")
        ]
        for a in settings.accounts
    }
    write_acl(out / "acl", settings.community, houses, services, devices)
    conf = out / "mosquitto.conf"
    conf.write_text(
        mosquitto_conf(settings.mqtt.port, settings.mqtt.host, out, out / "passwd", out / "acl")
    )
    _owned_by_broker(out, out / "passwd", out / "acl")
    return conf


def _owned_by_broker(*paths: Path, user: str = "mosquitto") -> None:
    """Started as root, Mosquitto drops to the ``mosquitto`` user: when we run as root,
    give it the files it must read (passwd, acl) and its persistence directory."""
    import os
    import pwd
    import shutil

    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(user)
    except KeyError:
        return
    for path in paths:
        shutil.chown(path, user, user)
