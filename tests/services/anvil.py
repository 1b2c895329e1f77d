"""An anvil node (npm @foundry-rs/anvil) on a free 127.0.0.1 port, one per test session."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.ports import free_port

ANVIL = Path(__file__).resolve().parents[2] / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"


def _rpc(url: str, method: str) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=2) as resp:
        return json.loads(resp.read())["result"]


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    """JSON-RPC URL of a fresh anvil (shanghai rules, automine), stopped at session end."""
    if not ANVIL.is_file():
        pytest.fail(f"anvil binary missing at {ANVIL}: run `make node` (npm ci)")
    port = free_port()
    proc = subprocess.Popen(
        [
            str(ANVIL),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--hardfork",
            "shanghai",
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _rpc(url, "eth_chainId")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"anvil did not start: {err}")
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
