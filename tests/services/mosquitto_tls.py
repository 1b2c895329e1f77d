"""A real Mosquitto configured by ``gridpeer broker-config`` with ``[mqtt] tls = true``,
the way an operator runs the community's broker: the CLI writes ``mosquitto.conf``, the
passwords, the ACLs, a CA and the broker's certificate into a directory, and Mosquitto is
started on that config (as root it drops to the ``mosquitto`` user, so the directory must
be one that user can reach).

* :func:`mosquitto_dir` (fixture) / :func:`reachable_dir`: such a directory, removed after;
* :func:`community_toml` writes a small community (``villa``: the services and ``h1``
  with :data:`PASSWORDS`), over TLS when given a CA path;
* :func:`broker_config` runs ``gridpeer broker-config`` on a community file;
* :class:`ConfiguredMosquitto` runs Mosquitto on the written config;
* :func:`paho_tls_client`: a bare paho client on the TLS broker, as an attacker's would be.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gridpeer.core.mqtt import BrokerAddress
from gridpeer.telemetry.broker import MOSQUITTO_BINARY, wait_for_port

PASSWORDS = {"h1": "h1-secret-2a", "services": "svc-secret-9f"}
"""MQTT passwords of :func:`community_toml`'s accounts (test values)."""


@contextlib.contextmanager
def reachable_dir(prefix: str = "gridpeer-broker-") -> Iterator[Path]:
    """A directory the ``mosquitto`` user can reach (pytest's tmp_path is under a 0700
    directory of root's), removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def mosquitto_dir() -> Iterator[Path]:
    """:func:`reachable_dir` for one test."""
    with reachable_dir() as d:
        yield d


def community_toml(path: Path, port: int, ca: Path | None, extra: str = "") -> Path:
    """Write a community TOML at ``path`` (returned): ``villa`` with an external broker on
    ``port``, over TLS verified with ``ca`` (plain TCP when None), the services account and
    house ``h1`` with :data:`PASSWORDS`; ``extra`` is appended (e.g. h1's
    ``[[accounts.devices]]``, more ``[[accounts]]``)."""
    tls = f'tls = true\nca_file = "{ca}"\n' if ca is not None else ""
    path.write_text(
        f"""community = "villa"
[mqtt]
embedded = false
port = {port}
username = "services"
password = "{PASSWORDS["services"]}"
{tls}[[accounts]]
id = "h1"
mqtt_password = "{PASSWORDS["h1"]}"
{extra}"""
    )
    return path


def broker_config(toml: Path, out: Path, *extra: str) -> None:
    """``gridpeer broker-config -c toml -o out [extra…]`` in a subprocess; asserts it
    succeeded and wrote a CA (the community has ``[mqtt] tls = true``)."""
    cli = [sys.executable, "-m", "gridpeer.cli", "broker-config"]
    run = subprocess.run(
        [*cli, "-c", str(toml), "-o", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "ca.crt" in run.stdout


class ConfiguredMosquitto:
    """``mosquitto -c conf``, listening on ``port`` (127.0.0.1) once constructed; its
    stderr (its log) is in :attr:`stderr` after :meth:`stop` (kept in a file, not a pipe
    that a long run could fill)."""

    def __init__(self, conf: Path, port: int) -> None:
        if not Path(MOSQUITTO_BINARY).exists():
            pytest.fail(f"{MOSQUITTO_BINARY} missing: install Debian's 'mosquitto' package")
        self.stderr = ""
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  # closed by stop()
        self.proc = subprocess.Popen(
            [MOSQUITTO_BINARY, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=self._log
        )
        if not wait_for_port("127.0.0.1", port, 10):
            self.stop()
            raise AssertionError(f"mosquitto did not start: {self.stderr}")

    def stop(self) -> None:
        """Terminate Mosquitto (if still running) and collect its stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        if not self._log.closed:
            self._log.seek(0)
            self.stderr = self._log.read().decode(errors="replace")
            self._log.close()


def paho_tls_client(address: BrokerAddress, client_id: str) -> mqtt.Client:
    """A bare paho client (not connected) logging in as ``address``'s user and verifying
    the broker with its TLS settings: what an attacker with a house's password runs."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    assert address.tls is not None and address.username is not None
    c.username_pw_set(address.username, address.password)
    c.tls_set_context(address.tls.context())
    return c
