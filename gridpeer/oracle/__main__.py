"""Run the oracle as its own process against a JSON-RPC node and an MQTT broker::

    python -m gridpeer.oracle --rpc http://127.0.0.1:8545 --contract 0x… \\
        --house h1=0x… --house h2=0x… --state sqlite:///oracle.db

The oracle key is read from the environment variable ``GRIDPEER_ORACLE_KEY`` (0x-hex),
never from the command line; ``--dev-keys`` uses the public dev keys (dev chains only)
for the oracle and for houses ``h1..hN``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import UTC, datetime

from gridpeer.core.clock import Clock
from gridpeer.oracle.service import Oracle
from gridpeer.oracle.settings import OracleSettings, OracleTimingError
from gridpeer.oracle.state import OracleState


def _houses(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        house, sep, addr = pair.partition("=")
        if not sep or not house or not addr.startswith("0x"):
            raise SystemExit(f"--house expects HOUSE=0xADDRESS, got {pair!r}")
        out[addr] = house
    return out


def _settings(a: argparse.Namespace) -> OracleSettings:
    return OracleSettings(
        community=a.community,
        confirmations=a.confirmations,
        lead_s=a.lead,
        result_grace_s=a.grace,
        settle_margin_s=a.settle_margin,
        ask_again_s=None if a.ask_again is None else tuple(a.ask_again),
        tolerance_pct=a.tolerance_pct,
        tolerance_wh=a.tolerance_wh,
        poll_s=a.poll,
        start_block=a.start_block,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run until SIGTERM / SIGINT."""
    p = argparse.ArgumentParser(
        prog="python -m gridpeer.oracle",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--rpc", required=True, help="Ethereum JSON-RPC URL (127.0.0.1)")
    p.add_argument("--contract", required=True, help="EnergyMarket address")
    p.add_argument("--dev-keys", type=int, default=0, help="dev chain: N dev houses + dev oracle")
    p.add_argument("--house", action="append", default=[], help="HOUSE=0xADDRESS (repeat)")
    p.add_argument("--state", required=True, help="sqlite:///file.db or postgresql://…")
    p.add_argument("--host", default="127.0.0.1", help="MQTT broker host")
    p.add_argument("--port", type=int, default=1883, help="MQTT broker port")
    p.add_argument("--community", default="demo", help="community id")
    p.add_argument("--confirmations", type=int, default=0, help="blocks before acting")
    p.add_argument("--lead", type=float, default=300.0, help="command lead before window, s")
    p.add_argument(
        "--grace", type=float, default=600.0, help="result wait after window (deadline), s"
    )
    p.add_argument(
        "--settle-margin",
        type=float,
        default=120.0,
        help="s reserved after the deadline to mine the settling tx (deadline + margin must "
        "fit in the contract's grace)",
    )
    p.add_argument(
        "--ask-again",
        type=float,
        action="append",
        default=None,
        help="s after window end to ask a silent side again (repeat; default 10/30/60 %% "
        "of --grace)",
    )
    p.add_argument("--tolerance-pct", type=float, default=2.0, help="meters agree within %%")
    p.add_argument("--tolerance-wh", type=int, default=5, help="... or within this many Wh")
    p.add_argument("--poll", type=float, default=0.02, help="wall seconds between ticks")
    p.add_argument("--start-block", type=int, default=0, help="first block on a fresh state")
    p.add_argument(
        "--mqtt-user", default=None, help="MQTT user (password from GRIDPEER_MQTT_PASSWORD)"
    )
    a = p.parse_args(argv)
    try:
        config = _settings(a)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise SystemExit(f"invalid oracle settings: {exc}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from gridpeer.chain.accounts import dev_account, dev_houses, from_env
    from gridpeer.chain.client import MarketClient
    from gridpeer.chain.web3_backend import Web3Backend
    from gridpeer.oracle.chain_adapter import MarketChainView

    houses = _houses(a.house)
    if a.dev_keys:
        key = dev_account("oracle")
        houses.update({acct.address: f"h{i + 1}" for i, acct in enumerate(dev_houses(a.dev_keys))})
    else:
        key = from_env("GRIDPEER_ORACLE_KEY")
    market = MarketClient(Web3Backend.rpc(a.rpc), a.contract)
    chain = MarketChainView(market, key, houses)
    clock = Clock(start=datetime.now(UTC), speed=1.0)
    from gridpeer.core.mqtt import mqtt_credentials

    try:
        oracle = Oracle(
            chain,
            OracleState(a.state),
            a.host,
            a.port,
            clock,
            config,
            mqtt_credentials(a.mqtt_user),
        )
    except OracleTimingError as exc:
        raise SystemExit(f"refusing to start: {exc}") from None
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
