"""Run the oracle as its own process against a JSON-RPC node and an MQTT broker::

    python -m gridpeer.oracle --rpc http://127.0.0.1:8545 --contract 0x… \\
        --oracle 0x… --house h1=0x… --house h2=0x… --state sqlite:///oracle.db

The oracle key (if the node does not hold the account unlocked) is read from the
environment variable ``GRIDPEER_ORACLE_KEY``, never from the command line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

from gridpeer.oracle.service import Oracle, OracleConfig
from gridpeer.oracle.state import OracleState
from gridpeer.sim.clock import Clock


def _houses(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        house, sep, addr = pair.partition("=")
        if not sep or not house or not addr.startswith("0x"):
            raise SystemExit(f"--house expects HOUSE=0xADDRESS, got {pair!r}")
        out[addr] = house
    return out


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run until SIGTERM / SIGINT."""
    p = argparse.ArgumentParser(prog="python -m gridpeer.oracle", description=__doc__)
    p.add_argument("--rpc", required=True, help="Ethereum JSON-RPC URL (127.0.0.1)")
    p.add_argument("--contract", required=True, help="EnergyMarket address")
    p.add_argument("--abi", type=Path, default=None, help="ABI JSON (default: packaged)")
    p.add_argument("--oracle", required=True, help="oracle role address")
    p.add_argument("--house", action="append", default=[], help="HOUSE=0xADDRESS (repeat)")
    p.add_argument("--state", required=True, help="sqlite:///file.db or postgresql://…")
    p.add_argument("--host", default="127.0.0.1", help="MQTT broker host")
    p.add_argument("--port", type=int, default=1883, help="MQTT broker port")
    p.add_argument("--community", default="demo", help="community id")
    p.add_argument("--confirmations", type=int, default=0, help="blocks before acting")
    p.add_argument("--lead", type=float, default=300.0, help="command lead before window, s")
    p.add_argument("--grace", type=float, default=600.0, help="result wait after window, s")
    p.add_argument("--poll", type=float, default=0.02, help="wall seconds between ticks")
    p.add_argument("--start-block", type=int, default=0, help="first block on a fresh state")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from web3 import Web3

    from gridpeer.oracle.chain_adapter import Web3ChainView

    if a.abi is not None:
        raw = json.loads(a.abi.read_text())
        abi = raw["abi"] if isinstance(raw, dict) else raw
    else:
        from gridpeer.chain.artifact import load_artifact

        abi = load_artifact().abi
    w3 = Web3(Web3.HTTPProvider(a.rpc, request_kwargs={"timeout": 30}))
    chain = Web3ChainView(
        w3, a.contract, abi, a.oracle, _houses(a.house), os.environ.get("GRIDPEER_ORACLE_KEY")
    )
    config = OracleConfig(
        community=a.community,
        confirmations=a.confirmations,
        lead_s=a.lead,
        result_grace_s=a.grace,
        poll_s=a.poll,
        start_block=a.start_block,
    )
    clock = Clock(start=datetime.now(UTC), speed=1.0)
    oracle = Oracle(chain, OracleState(a.state), a.host, a.port, clock, config)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    oracle.start()
    print("oracle ready", flush=True)
    done.wait()
    oracle.stop()
    oracle.state.close()


if __name__ == "__main__":
    main()
