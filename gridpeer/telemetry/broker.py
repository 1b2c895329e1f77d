"""MQTT brokers: address, a Mosquitto launcher (tests, ``serve``) and the embedded amqtt
broker (``demo``). Everything binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from gridpeer.core.extras import require
from gridpeer.core.mqtt import BrokerAddress, MqttTls
from gridpeer.telemetry.schemas import TOPIC_ROOT

MOSQUITTO_BINARY = "/usr/sbin/mosquitto"
MESSAGE_SIZE_LIMIT = 65536
"""Largest payload Mosquitto accepts, bytes. gridpeer's largest legitimate payloads are a
few kB (a Shelly status, a Home Assistant discovery config); readings and delivery messages
are a few hundred bytes."""
PACKET_HEADROOM = 1024
"""Bytes above the payload limit a whole MQTT packet may take (topic, header); a client
sending a larger packet is disconnected before the broker reads it."""


@dataclass(frozen=True)
class ListenerTls:
    """TLS of a Mosquitto listener: the CA, the broker's certificate and key (PEM files),
    and whether every client must present a certificate signed by the CA."""

    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False

    def conf_lines(self) -> list[str]:
        """The listener's TLS options (they follow its ``listener`` line)."""
        return [
            f"cafile {self.cafile}",
            f"certfile {self.certfile}",
            f"keyfile {self.keyfile}",
            "tls_version tlsv1.2",  # the minimum; TLS 1.3 is negotiated when both can
            f"require_certificate {'true' if self.require_certificate else 'false'}",
        ]


def wait_for_port(host: str, port: int, timeout_s: float = 10.0) -> bool:
    """Poll until a TCP connection to ``host:port`` succeeds; ``False`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def write_acl(
    path: Path,
    community: str,
    houses: Mapping[str, str],
    services: Mapping[str, str],
    device_topics: Mapping[str, Sequence[str]] | None = None,
    service_topics: Sequence[str] = (),
) -> None:
    """Write a Mosquitto ACL file: each house user (named like the house) may read and write
    only ``gridpeer/<community>/<house>/#`` and its own devices' topics
    (``device_topics[house]``: a smart plug's ``tele/…``, ``cmnd/…``); service users
    (agents host, oracle, web) the whole community and ``service_topics`` (e.g. Home
    Assistant's ``homeassistant/#``). Passwords are not written here (see
    :func:`write_passwords`)."""
    lines = []
    for house in houses:
        lines += [f"user {house}", f"topic readwrite {TOPIC_ROOT}/{community}/{house}/#"]
        lines += [f"topic readwrite {t}" for t in (device_topics or {}).get(house, ())]
        lines.append("")
    for user in services:
        lines += [f"user {user}", f"topic readwrite {TOPIC_ROOT}/{community}/#"]
        lines += [f"topic readwrite {t}" for t in service_topics]
        lines.append("")
    path.write_text("\n".join(lines))


def write_passwords(path: Path, users: Mapping[str, str]) -> None:
    """Write a Mosquitto password file with hashed passwords (uses ``mosquitto_passwd -U``)."""
    for user, password in users.items():
        if ":" in user or not user or not password:
            raise ValueError(f"invalid MQTT user {user!r} or empty password")
    path.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    os.chmod(path, 0o600)
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    subprocess.run([tool, "-U", str(path)], check=True, capture_output=True)


def mosquitto_conf(
    port: int,
    host: str,
    data_dir: Path,
    password_file: Path | None = None,
    acl_file: Path | None = None,
    log_file: Path | None = None,
    persistence: bool = True,
    *,
    tls: ListenerTls | None = None,
    message_size_limit: int = MESSAGE_SIZE_LIMIT,
) -> str:
    """A Mosquitto configuration for gridpeer: one listener (with ``tls``: TLS only),
    anonymous access only without a password file, persistence, payloads up to
    ``message_size_limit`` bytes (a client sending a larger packet is disconnected), and
    no limits on queued or in-flight QoS-1 messages (home agents acknowledge a message only
    once it is stored, in batches), and ``set_tcp_nodelay``."""
    lines = [
        f"listener {port} {host}",
        *(tls.conf_lines() if tls is not None else []),
        f"message_size_limit {message_size_limit}",
        f"max_packet_size {message_size_limit + PACKET_HEADROOM}",
        f"allow_anonymous {'false' if password_file else 'true'}",
        f"persistence {'true' if persistence else 'false'}",
        f"persistence_location {data_dir}/",
        "autosave_interval 5",
        "max_queued_messages 0",  # persistent sessions: never drop queued QoS-1 messages
        "max_queued_bytes 0",
        "max_inflight_messages 0",
        # no Nagle delay: a small PUBLISH (a delivery command) is not held back while an
        # earlier one is unacknowledged; measured over an emulated 200 ms link with 5 %
        # loss (bench/lossy_live.py): command p99 627 -> 348 ms
        "set_tcp_nodelay true",
        f"log_dest file {log_file}" if log_file else "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    if password_file is not None:
        lines.append(f"password_file {password_file}")
    if acl_file is not None:
        lines.append(f"acl_file {acl_file}")
    return "\n".join(lines) + "\n"


class MosquittoBroker:
    """A Mosquitto process on ``127.0.0.1:port`` with its own config and persistence dir.

    Persistence keeps QoS-1 messages and persistent sessions across a restart. With
    ``passwords`` (user → password) anonymous access is off; with an ``acl_file`` topics
    are restricted (see :func:`write_acl`).
    """

    def __init__(
        self,
        port: int,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        persistence: bool = True,
        passwords: Mapping[str, str] | None = None,
        acl_file: Path | None = None,
        binary: str = MOSQUITTO_BINARY,
        tls: ListenerTls | None = None,
    ) -> None:
        self.port = port
        self.host = host
        self.data_dir = Path(data_dir)
        self.binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file = self.data_dir / "mosquitto.conf"
        self.log_file = self.data_dir / "mosquitto.log"
        pw = None
        if passwords:
            pw = self.data_dir / "passwd"
            write_passwords(pw, passwords)
        self.tls = tls
        conf = mosquitto_conf(
            port, host, self.data_dir, pw, acl_file, self.log_file, persistence, tls=tls
        )
        if os.geteuid() == 0:
            conf += "user root\n"  # otherwise it drops to 'mosquitto' and cannot write data_dir
        self.config_file.write_text(conf)

    @property
    def address(self) -> BrokerAddress:
        """Anonymous address of this broker (verifying its certificate with TLS)."""
        tls = MqttTls(str(self.tls.cafile)) if self.tls is not None else None
        return BrokerAddress(self.host, self.port, tls=tls)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = 15.0) -> None:
        """Start Mosquitto and wait until it accepts connections."""
        if self.running:
            return
        if not Path(self.binary).exists():
            raise FileNotFoundError(
                f"{self.binary} not found: install Debian's 'mosquitto' package"
            )
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(self.config_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # not stopped by a terminal's Ctrl-C before its users
        )
        if not wait_for_port(self.host, self.port, timeout_s):
            err = self._stop_process()
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {err}{log}")

    def _stop_process(self, timeout_s: float = 10.0) -> str:
        proc, self._proc = self._proc, None
        if proc is None:
            return ""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # graceful: saves the persistence file
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _, err = proc.communicate()
        return err.decode(errors="replace")

    def stop(self) -> None:
        """Stop Mosquitto gracefully (SIGTERM; it writes its persistence file first)."""
        self._stop_process()

    def restart(self) -> None:
        """Stop and start again on the same port with the same persistence."""
        self.stop()
        self.start()

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmbeddedBroker:
    """The embedded amqtt broker, running in the current asyncio loop (see
    :func:`start_embedded_broker`). Anonymous, no ``$SYS`` topics, in-memory sessions."""

    def __init__(self, broker: Any, address: BrokerAddress) -> None:
        self._broker = broker
        self.address = address

    async def stop(self) -> None:
        """Shut the broker down and close its listener."""
        await self._broker.shutdown()


async def start_embedded_broker(port: int, host: str = "127.0.0.1") -> EmbeddedBroker:
    """Start amqtt bound explicitly to ``host:port`` (default loopback only) in this loop.

    Raises:
        MissingExtra: amqtt is not installed (the ``demo`` extra).
    """
    require("demo", "the embedded MQTT broker")
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    return EmbeddedBroker(broker, BrokerAddress(host, port))
