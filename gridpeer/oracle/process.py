"""The oracle as a process of its own (``gridpeer oracle``, ``python -m gridpeer.oracle``):
parse the houses, connect, run until SIGTERM / SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime

from gridpeer.core.clock import Clock
from gridpeer.core.mqtt import MqttTls
from gridpeer.oracle.service import Oracle
from gridpeer.oracle.settings import OracleSettings, OracleTimingError
from gridpeer.oracle.state import OracleState


def parse_houses(pairs: list[str]) -> dict[str, str]:
    """``HOUSE=0xADDRESS`` pairs → {address: house}.

    Raises:
        ValueError: a pair is not in that form.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        house, sep, addr = pair.partition("=")
        if not sep or not house or not addr.startswith("0x"):
            raise ValueError(f"--house expects HOUSE=0xADDRESS, got {pair!r}")
        out[addr] = house
    return out


def run(
    *,
    rpc: str,
    contract: str,
    state: str,
    houses: dict[str, str],
    dev_keys: int,
    host: str,
    port: int,
    settings: OracleSettings,
    mqtt_user: str | None,
    tls: MqttTls | None = None,
) -> None:
    """Run the oracle until SIGTERM / SIGINT (``houses``: {address: house id}).

    Raises:
        SystemExit: the timings cannot settle a trade before its buyer may reclaim it.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from gridpeer.chain.accounts import dev_account, dev_houses, from_env
    from gridpeer.chain.client import MarketClient
    from gridpeer.chain.web3_backend import Web3Backend
    from gridpeer.core.mqtt import mqtt_credentials
    from gridpeer.oracle.chain_adapter import MarketChainView

    houses = dict(houses)
    if dev_keys:
        key = dev_account("oracle")
        houses.update({acct.address: f"h{i + 1}" for i, acct in enumerate(dev_houses(dev_keys))})
    else:
        key = from_env("GRIDPEER_ORACLE_KEY")
    market = MarketClient(Web3Backend.rpc(rpc), contract)
    chain = MarketChainView(market, key, houses)
    clock = Clock(start=datetime.now(UTC), speed=1.0)
    try:
        oracle = Oracle(
            chain,
            OracleState(state),
            host,
            port,
            clock,
            settings,
            mqtt_credentials(mqtt_user),
            tls=tls,
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
