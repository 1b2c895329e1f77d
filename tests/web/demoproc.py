"""Run ``gridpeer demo`` as a real process on free ports, read its URL, stop it with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field


@dataclass
class DemoProcess:
    proc: subprocess.Popen[str]
    url: str
    broker_port: int
    lines: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 30.0, group: bool = False) -> int:
        """Send SIGINT (Ctrl-C) and wait; returns the exit code. ``group``: to the demo's
        whole process group, as a terminal's Ctrl-C does (needs ``start_demo(...,
        session=True)``)."""
        if self.proc.poll() is None:
            if group:
                os.killpg(self.proc.pid, signal.SIGINT)
            else:
                self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def start_demo(*args: str, timeout: float = 60.0, session: bool = False) -> DemoProcess:
    """Start the demo (``args`` added to the command line) and wait until it prints its URL;
    ``session``: in a session (process group) of its own, like a command in a terminal."""
    # --port 0: the demo binds a free port itself and prints it. A port picked here and
    # bound ~20 s later raced the demo's own sockets (its JSON-RPC server, its clients).
    cmd = [sys.executable, "-m", "gridpeer.cli", "demo", "--port", "0", *args]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=session,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if m := re.search(r"MQTT broker on [\d.]+:(\d+)", line):
                found["broker"] = m.group(1)
            if m := re.search(r"Open (http://\S+?)/ ", line):
                found["url"] = m.group(1)
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1) and time.monotonic() < deadline:
        pass
    if "url" not in found:
        proc.kill()
        proc.wait()
        raise AssertionError("demo did not start:\n" + "".join(lines))
    return DemoProcess(proc, found["url"], int(found.get("broker", 0)), lines)
