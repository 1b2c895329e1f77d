"""A local anvil node (npm ``@foundry-rs/anvil``) on 127.0.0.1, for development, tests and
benchmarks: ``gridpeer demo --chain URL`` talks to one like any Ethereum JSON-RPC node.

npm skips anvil's install script, but the binary ships in its per-platform package:
``node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil`` (``make node`` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType

REPO_ANVIL = (
    Path(__file__).resolve().parents[2] / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
)


def anvil_binary() -> Path:
    """The anvil executable: ``$GRIDPEER_ANVIL``, the repo's node_modules, or ``anvil`` on PATH.

    Raises:
        FileNotFoundError: none found (with how to install it).
    """
    env = os.environ.get("GRIDPEER_ANVIL")
    for candidate in (env, str(REPO_ANVIL), shutil.which("anvil")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        f"anvil not found at {REPO_ANVIL}: run `make node` (npm install @foundry-rs/anvil) "
        "or set GRIDPEER_ANVIL"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc(url: str, method: str, params: list[object] | None = None) -> object:
    """One JSON-RPC call; returns its ``result``."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())["result"]


class AnvilNode:
    """anvil on 127.0.0.1 (auto-mining, shanghai rules, deterministic dev accounts).

    Restartable: ``stop()`` then ``start()`` gives a fresh chain on the same port.

    Args:
        port: TCP port (default: a free one).
        log: file to append anvil's output to (default: discarded).
        accounts: number of funded dev accounts.
    """

    def __init__(self, port: int | None = None, log: Path | None = None, accounts: int = 10):
        self.port = port or _free_port()
        self.log = log
        self.accounts = accounts
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """JSON-RPC URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        """Start anvil and wait until it answers JSON-RPC.

        Raises:
            FileNotFoundError: no anvil binary. RuntimeError: it did not come up.
        """
        cmd = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--hardfork", "shanghai", "--accounts", str(self.accounts), "--silent"]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            # a session of its own: a terminal's Ctrl-C goes to the whole foreground
            # process group, and the chain must outlive the services that still use it
            # while the demo stops them in order (it stops the node last)
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                rpc(self.url, "eth_chainId")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"anvil did not start on port {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop anvil (its chain is gone)."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self) -> AnvilNode:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
