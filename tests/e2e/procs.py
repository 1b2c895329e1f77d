"""Real processes for the delivery tests: a restartable Mosquitto with persistence, and
the oracle / agent entry points as child processes that can be ``kill -9``-ed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from gridpeer.chain.anvil import AnvilNode

MOSQUITTO = "/usr/sbin/mosquitto"


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Mosquitto:
    """Mosquitto on 127.0.0.1:``port`` with on-disk persistence in ``folder`` (sessions
    and queued QoS 1 messages survive :meth:`restart`)."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nautosave_interval 1\nautosave_on_changes true\n"
            "max_queued_messages 0\nlog_dest stderr\nlog_type error\n"
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "mosquitto.log", "ab"),  # noqa: SIM115
        )
        wait_port(self.port)

    def stop(self) -> None:
        """Graceful stop (SIGTERM): Mosquitto writes its persistence file."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
            self.proc = None

    def restart(self, down_s: float = 0.5) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


class Child:
    """A ``python -m module args…`` child process with its log in ``log``."""

    def __init__(self, module: str, args: list[str], log: Path) -> None:
        self.module, self.args, self.log = module, args, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def ready(self) -> bool:
        """True once the child printed its ``… ready`` line since the last start."""
        return self.log.exists() and self.log.read_bytes().count(b" ready") >= self.starts

    def start(self) -> None:
        self.starts += 1
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            stdout=open(self.log, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            env=env,
        )

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None


def Anvil(port: int, log: Path) -> AnvilNode:
    """anvil on 127.0.0.1:``port`` with 12 dev accounts, its output appended to ``log``."""
    return AnvilNode(port, log=log, accounts=12)
