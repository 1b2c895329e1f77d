"""The ``gridpeer coordinator`` process: the coordinator of a served community's
centralized or hybrid market, configured like ``serve`` (the same community TOML).

Reads ``[chain]`` (``rpc_url``, ``contract_address``, ``coordinator_key``), ``store_url``
(where orders are kept; the web app's ``POST /api/orders`` writes to the same store),
``[mqtt]`` (the order intake topics) and ``[market]`` (``design``, ``mechanism``,
``gate_s``); the houses' addresses from ``[[accounts]]``. Runs until SIGTERM/SIGINT; a
restart (even after ``kill -9``) reconciles the stored batches with the chain first.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from gridpeer.chain.client import MarketClient
from gridpeer.coordinator.mqtt_intake import MqttIntake
from gridpeer.coordinator.preferences import Community, community_of
from gridpeer.coordinator.service import Coordinator
from gridpeer.core.mqtt import BrokerAddress
from gridpeer.core.settings import Settings, load_settings
from gridpeer.market.clearing import GridPrices
from gridpeer.store.base import BatchRecord
from gridpeer.store.factory import open_store

log = logging.getLogger(__name__)


def check(settings: Settings) -> str | None:
    """Why ``settings`` cannot run a coordinator, or None."""
    if settings.market.design == "decentralized":
        return "market.design is decentralized: there is nothing to coordinate"
    if settings.chain.rpc_url == "embedded" or settings.chain.contract_address is None:
        return "set chain.rpc_url (a JSON-RPC URL) and chain.contract_address"
    if settings.chain.coordinator_key is None and "coordinator" not in settings.keys:
        return (
            "set [keys.coordinator] (gridpeer admin keys new coordinator) or "
            "chain.coordinator_key (GRIDPEER_CHAIN__COORDINATOR_KEY)"
        )
    if settings.store_url is None:
        return "set store_url (sqlite:///file.db or postgresql://…): orders are kept there"
    return None


def role_key(settings: Settings) -> LocalAccount:
    """The coordinator's account: its encrypted keystore ``[keys.coordinator]`` (password
    from ``GRIDPEER_KEYS__COORDINATOR__PASSWORD`` or its ``password_file``), else the
    plaintext ``[chain] coordinator_key``.

    Raises:
        ValueError: neither is set, or the keystore cannot be unlocked (says why).
    """
    from gridpeer.chain.keystore import KeystoreError, unlock_key

    ref = settings.keys.get("coordinator")
    if ref is not None:
        try:
            return unlock_key(ref, "coordinator")
        except KeystoreError as exc:
            raise ValueError(f"[keys.coordinator]: {exc}") from None
    if settings.chain.coordinator_key is None:
        raise ValueError("set [keys.coordinator] or chain.coordinator_key")
    key: LocalAccount = Account.from_key(settings.chain.coordinator_key.get_secret_value().strip())
    return key


def build(settings: Settings) -> Coordinator:
    """The coordinator the settings describe (not started). Raises ValueError if
    :func:`check` refuses them."""
    why = check(settings)
    if why is not None:
        raise ValueError(why)
    from gridpeer.chain.web3_backend import Web3Backend

    assert settings.chain.contract_address is not None and settings.store_url is not None
    market = MarketClient(Web3Backend.rpc(settings.chain.rpc_url), settings.chain.contract_address)
    key = role_key(settings)
    houses = {a.address: a.id for a in settings.accounts if a.address is not None}
    t = settings.tariff
    return Coordinator(
        market,
        key,
        houses,
        mode=settings.market.design,  # type: ignore[arg-type]
        mechanism=settings.market.mechanism,
        grid=GridPrices(t.import_wei_per_kwh, t.feed_in_wei_per_kwh),
        gate_s=settings.market.gate_s,
        store=open_store(settings.store_url),
        community=account_community(settings),
    )


def account_community(settings: Settings) -> Community:
    """Zones and green houses of the configured ``[[accounts]]`` (``zone``, ``green``; a
    house with PV is green unless it says otherwise), for local and green preferences."""
    return community_of(
        [
            (
                a.id,
                a.zone,
                a.green if a.green is not None else (a.pv_kwp > 0 or a.kind != "consumer"),
            )
            for a in settings.accounts
        ]
    )


def run(
    settings: Settings,
    poll_s: float = 0.1,
    hooks: Mapping[str, Callable[[BatchRecord], None]] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the coordinator (and its MQTT intake unless ``mqtt.port`` is 0) until
    SIGTERM/SIGINT or ``stop``; ``hooks`` are test points (see
    :attr:`Coordinator.hooks`)."""
    coord = build(settings)
    coord.hooks.update(hooks or {})
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    intake = None
    m = settings.mqtt
    if m.port:
        broker = BrokerAddress(m.host, m.port)
        if m.username is not None and m.password is not None:
            broker = broker.as_user(m.username, m.password.get_secret_value())
        intake = MqttIntake(coord, broker, settings.community)
        intake.start()
    coord.start(poll_s)
    log.info("coordinator: %s market for %s running", coord.mode, settings.community)
    try:
        stop.wait()
    finally:
        coord.stop()
        if intake is not None:
            intake.stop()
        coord.store.close()


def main(config: Path) -> int:
    """Load ``config`` and run; 2 when the settings cannot run a coordinator."""
    try:
        settings = load_settings(config)
        build_check = check(settings)
    except (FileNotFoundError, ValueError) as exc:
        log.error("coordinator: %s", exc)
        return 2
    if build_check is not None:
        log.error("coordinator: %s", build_check)
        return 2
    run(settings)
    return 0
