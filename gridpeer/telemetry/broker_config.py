"""Mosquitto accounts and ACLs for a served community (``gridpeer broker-config``).

Users: one per house (named like the house, ``[[accounts]] mqtt_password``), allowed to
read and write only ``gridpeer/<community>/<house>/#`` and the topics of the house's own
smart plugs and meters (``[[accounts.devices]]``, which connect with the house's account),
and the services account (``[mqtt] username/password``: ingest, oracle, web) for the whole
community — and every house's devices, which ``gridpeer agents`` drives on the services
account (a shared device session per group of houses, whose Shellys answer on
``gridpeer-dev-<community>-<first house of the group>/rpc``).

With ``[mqtt] tls = true`` the listener speaks TLS only: the directory gets the
community's CA (``ca.crt``, ``ca.key``), the broker's certificate for ``[mqtt] host`` and
``server_names`` (``server.crt``, ``server.key``) and, with ``client_certs``, a client
certificate per house and for the services (``clients/<user>.crt``, ``.key``), which the
broker then requires. Every config limits payloads to ``[mqtt] message_size_limit``.

Mosquitto keeps its persistence in ``data/``. Run as root, the files Mosquitto reads
(``passwd``, ``acl``, ``server.*``) and ``data/`` are handed to the ``mosquitto`` user,
which Mosquitto drops to when started as root; the directory itself, the CA (its key mode
600) and the client keys stay the caller's, so the broker can read its files but never
replace ``ca.crt`` nor remove ``ca.key``.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from pathlib import Path

from gridpeer.core.settings import Settings
from gridpeer.telemetry.adapters.config import acl_topics, house_devices
from gridpeer.telemetry.broker import ListenerTls, mosquitto_conf, write_acl, write_passwords

BROKER_USER = "mosquitto"
"""The account Mosquitto switches to when started as root (Debian's package)."""


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


def write_broker_config(settings: Settings, out: Path, *, client_certs: bool = False) -> Path:
    """Write ``out/passwd`` (hashed, mode 600), ``out/acl``, with ``[mqtt] tls`` the CA and
    certificates (see the module), and ``out/mosquitto.conf`` (listener ``[mqtt]
    host:port``, persistence in ``out/data``); hand the broker's files to the ``mosquitto`` user
    when run as root (:func:`hand_to_broker`). Returns the config's path.

    Raises:
        ValueError: a password is missing, the port is 0, or ``client_certs`` without TLS.
    """
    houses, services = broker_users(settings)
    m = settings.mqtt
    if m.port == 0:
        raise ValueError("[mqtt] port must be set (the broker's listening port)")
    if client_certs and not m.tls:
        raise ValueError("client certificates need [mqtt] tls = true")
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    (out / "data").mkdir(mode=0o700, exist_ok=True)
    write_passwords(out / "passwd", {**houses, **services})
    devices = {
        a.id: [
            t
            for d in house_devices(a.devices)
            for t in acl_topics(d, f"gridpeer-dev-{settings.community}-{a.id}")
        ]
        for a in settings.accounts
    }
    ha = settings.homeassistant
    extra = [f"{ha.prefix}/#"] if ha.enabled else []  # discovery configs, birth message
    extra += sorted({t for topics in devices.values() for t in topics})  # gridpeer agents
    write_acl(out / "acl", settings.community, houses, services, devices, extra)
    tls = None
    if m.tls:
        from gridpeer.telemetry.broker_tls import (
            ensure_ca,
            ensure_client_cert,
            server_names,
            write_server_cert,
        )

        ca = ensure_ca(out, settings.community)
        cert, key = write_server_cert(out, ca, server_names(m.host, m.server_names))
        for user in [*houses, *services] if client_certs else []:
            ensure_client_cert(out, ca, user)
        tls = ListenerTls(out / "ca.crt", cert, key, require_certificate=client_certs)
    conf = out / "mosquitto.conf"
    conf.write_text(
        mosquitto_conf(
            m.port,
            m.host,
            out / "data",
            out / "passwd",
            out / "acl",
            tls=tls,
            message_size_limit=m.message_size_limit,
        )
    )
    hand_to_broker(out)
    return conf


def hand_to_broker(out: Path, user: str = BROKER_USER) -> bool:
    """When run as root and ``user`` exists: make ``out/data`` (Mosquitto's persistence,
    mode 700) and the files it reads (``passwd``, ``acl``, ``server.crt``, ``server.key``;
    mode 600 but the certificate) owned by ``user``, so Mosquitto started as root can use
    them after dropping to ``user``. ``out`` stays the caller's (mode 755): ``ca.crt`` and
    ``mosquitto.conf`` stay readable for the clients, and the broker cannot replace them.
    Returns whether ownership was changed."""
    if os.geteuid() != 0:
        return False
    try:
        uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(user).gr_gid
    except KeyError:
        return False
    os.chmod(out, 0o755)
    os.chown(out / "data", uid, gid)
    os.chmod(out / "data", 0o700)
    for name in ("passwd", "acl", "server.crt", "server.key"):
        path = out / name
        if path.exists():
            shutil.chown(path, uid, gid)
            os.chmod(path, 0o644 if name == "server.crt" else 0o600)
    return True
