"""``gridpeer serve``: the community against real parts — an external MQTT broker
(Mosquitto with per-house accounts and ACLs), PostgreSQL (or SQLite), and an Ethereum
JSON-RPC node with an already deployed market. Real sensor nodes publish the readings;
the home agents' ingest stores them; the oracle turns trades into delivery commands and
settles them; the web app serves it all. Real time (speed 1)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridpeer.chain.dev_chains import DEV_CHAIN_IDS
from gridpeer.core.clock import Clock
from gridpeer.core.settings import ChainSettings, ConfigError, Settings
from gridpeer.runtime.composition import Composition, Parts
from gridpeer.web.models import HouseInfo, HouseKind

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from gridpeer.chain.fees import FeePolicy
    from gridpeer.oracle.settings import OracleSettings

log = logging.getLogger(__name__)


def served_houses(settings: Settings) -> list[HouseInfo]:
    """Display info of the configured houses (``[[accounts]]``)."""
    return [
        HouseInfo(
            id=a.id,
            name=a.name or f"House {a.id}",
            kind=HouseKind(a.kind),
            pv_kwp=a.pv_kwp,
            bess_kwh=a.bess_kwh,
            account=a.address,
        )
        for a in settings.accounts
    ]


@contextlib.asynccontextmanager
async def ingest(parts: Parts) -> AsyncIterator[None]:
    """The home agents' ingest: every house's readings from the broker into the store."""
    from gridpeer.hems.host import AgentHost

    assert parts.store is not None, "ingest needs the store service first"
    broker = parts.broker = parts.settings.mqtt.address()  # with TLS when [mqtt] tls
    houses = [h.id for h in parts.houses]
    host = AgentHost(parts.settings.community, houses, broker, parts.store, clock=parts.clock)
    parts.ingest = host
    await asyncio.to_thread(host.start)
    try:
        yield
    finally:
        await asyncio.to_thread(host.stop)


@contextlib.asynccontextmanager
async def rpc_chain(parts: Parts) -> AsyncIterator[None]:
    """The deployed market on ``chain.rpc_url`` (no dev keys, chain time untouched);
    skipped, with trading off, when no ``chain.contract_address`` is configured."""
    address = parts.settings.chain.contract_address
    if address is None:
        yield
        return
    from gridpeer.chain.client import MarketClient
    from gridpeer.chain.hub import ChainHub
    from gridpeer.chain.web3_backend import Web3Backend
    from gridpeer.runtime.services import running_hub

    c = parts.settings.chain
    backend = await asyncio.to_thread(Web3Backend.rpc, c.rpc_url, 30.0, fee_policy(c))
    members = {a.address.lower(): a.id for a in parts.settings.accounts if a.address}
    start = c.deploy_block or await asyncio.to_thread(backend.deployment_block, address)
    hub = ChainHub(
        MarketClient(backend, address),
        parts.clock,
        follow_clock=False,
        members=members,
        start_block=start,
        chunk_blocks=c.log_chunk_blocks,
        confirmations=0 if backend.chain_id in DEV_CHAIN_IDS else 2,
    )
    if parts.store is not None:
        hub.index = parts.store  # the indexer's cursor survives restarts
    async with running_hub(parts, hub):
        yield


@contextlib.asynccontextmanager
async def oracle(parts: Parts) -> AsyncIterator[None]:
    """The oracle — trades on chain → delivery commands to both houses over MQTT → their
    metered Wh confirmed on chain — when the config has the deployed market and the
    oracle's key (``chain.operator_key``). Its cursor and trades are kept in the store's
    database (``oracle_*`` tables), so a restart resumes where it stopped.

    Raises:
        ConfigError: the key is not the market's oracle, a house's address is not a
            member, or the ``[oracle]`` timings are invalid or cannot settle a trade
            within the contract's grace.
    """
    s = parts.settings
    address = s.chain.contract_address
    if (s.chain.operator_key is None and "oracle" not in s.keys) or address is None:
        log.warning("no [keys.oracle]: the oracle is not running (trades are not settled)")
        yield
        return
    from gridpeer.chain.client import MarketClient
    from gridpeer.chain.web3_backend import Web3Backend
    from gridpeer.oracle.chain_adapter import MarketChainView
    from gridpeer.oracle.service import Oracle
    from gridpeer.oracle.settings import OracleTimingError
    from gridpeer.oracle.state import OracleState

    key = await asyncio.to_thread(operator_account, s)
    market = MarketClient(
        await asyncio.to_thread(Web3Backend.rpc, s.chain.rpc_url, 30.0, fee_policy(s.chain)),
        address,
    )
    houses = {a.address: a.id for a in s.accounts if a.address is not None}
    await asyncio.to_thread(_check_roles, market, key.address, houses)
    config = oracle_settings(s, market.backend.chain_id)
    assert parts.store is not None and s.store_url is not None
    state = await asyncio.to_thread(OracleState, s.store_url)
    m = s.mqtt
    credentials = (m.username, m.password.get_secret_value()) if m.username and m.password else None
    try:
        service = Oracle(
            MarketChainView(market, key, houses),
            state,
            m.host,
            m.port,
            parts.clock,
            config,
            credentials,
            tls=m.address().tls,
        )
    except OracleTimingError as exc:
        state.close()
        raise ConfigError(f"[oracle]: {exc}") from None
    await asyncio.to_thread(service.start)
    parts.oracle = service
    try:
        yield
    finally:
        await asyncio.to_thread(service.stop)
        state.close()


def operator_account(settings: Settings) -> LocalAccount:
    """The oracle's account: its encrypted keystore ``[keys.oracle]`` unlocked with its
    password (``GRIDPEER_KEYS__ORACLE__PASSWORD`` or its ``password_file``), else the
    plaintext ``chain.operator_key`` of older configs.

    Raises:
        ConfigError: the keystore cannot be unlocked (the message says why).
    """
    from eth_account import Account

    from gridpeer.chain.keystore import KeystoreError, unlock_key

    ref = settings.keys.get("oracle")
    if ref is None:
        assert settings.chain.operator_key is not None
        acct: LocalAccount = Account.from_key(settings.chain.operator_key.get_secret_value())
        return acct
    try:
        return unlock_key(ref, "oracle")
    except KeystoreError as exc:
        raise ConfigError(f"[keys.oracle]: {exc}") from None


def fee_policy(c: ChainSettings) -> FeePolicy:
    """How ``serve`` prices and replaces transactions (``[chain]`` settings)."""
    from gridpeer.chain.fees import FeePolicy

    cap = None if c.max_fee_gwei is None else int(c.max_fee_gwei * 10**9)
    return FeePolicy(replace_after_s=c.tx_replace_after_s, max_fee_cap_wei=cap)


def oracle_settings(settings: Settings, chain_id: int) -> OracleSettings:
    """The oracle's settings from ``[oracle]``, for this community; unless the table sets
    ``confirmations``, 2 on any chain but a development one (``chain_id``).

    Raises:
        ConfigError: an invalid value (the message names it).
    """
    from pydantic import ValidationError

    from gridpeer.oracle.settings import OracleSettings

    values = {**settings.oracle, "community": settings.community}
    if "confirmations" not in settings.oracle and chain_id not in DEV_CHAIN_IDS:
        values["confirmations"] = 2
    try:
        return OracleSettings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(
            "; ".join(
                f"[oracle] {'.'.join(str(p) for p in e['loc']) or 'timings'}: "
                f"{e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
        ) from None


def _check_roles(market: Any, oracle: str, houses: dict[str, str]) -> None:
    roles = market.roles()
    if roles["oracle"].lower() != oracle.lower():
        raise ConfigError(
            f"the oracle key ([keys.oracle] or chain.operator_key) is the account {oracle}, "
            f"but the market's oracle is {roles['oracle']}: use that account's key"
        )
    for addr, house in houses.items():
        if not market.member(addr)[1]:
            raise ConfigError(f"house {house}'s address {addr} is not a member of the market")


@contextlib.asynccontextmanager
async def single_instance(parts: Parts) -> AsyncIterator[None]:
    """Refuse to run next to another ``serve`` of the same community (see
    :mod:`gridpeer.runtime.instance`); stop this one if the lock is lost to another.

    Raises:
        AlreadyRunning: another instance holds the lock.
    """
    from gridpeer.runtime.instance import PostgresLock, file_lock
    from gridpeer.store.factory import is_postgres, sqlite_path

    s = parts.settings
    assert s.store_url is not None, "serve needs store_url"
    if is_postgres(s.store_url):
        loop = asyncio.get_running_loop()

        def lost() -> None:
            loop.call_soon_threadsafe(parts.stop.set)

        lock = PostgresLock(s.store_url, s.community, lost)
        await asyncio.to_thread(lock.acquire)
        try:
            yield
        finally:
            await asyncio.to_thread(lock.release)
        return
    db = sqlite_path(s.store_url)
    path = Path(f"{db}.serve.lock") if isinstance(db, Path) else parts.data_dir / "serve.lock"
    with file_lock(path):
        yield


def serve_composition(hosts: int | None = None, share: str | None = None) -> Composition:
    """instance (the one serve of its community), store, ingest (agents), chain (deployed
    market; chain_clock before it pushes a dev chain's time on an accelerated model clock),
    oracle, coordinator (centralized/hybrid designs), p2p_state (houses' P2P
    totals), thingspeak (optional uplink), web. ``hosts``: the ingest in that many
    ``gridpeer agents`` child processes (0: none), ``None``: in this process."""
    from gridpeer.runtime import services
    from gridpeer.runtime.chain_clock import chain_clock
    from gridpeer.runtime.coordinator import coordinator
    from gridpeer.runtime.grid import grid_check
    from gridpeer.runtime.homeassistant import homeassistant
    from gridpeer.runtime.p2p_state import p2p_state
    from gridpeer.runtime.thingspeak import thingspeak

    comp = Composition()
    comp.add("instance", single_instance)
    comp.add("store", services.store)
    if hosts is None:
        comp.add("ingest", ingest)
    else:
        from functools import partial

        from gridpeer.runtime.agents import agent_processes

        comp.add("ingest", partial(agent_processes, n=hosts, share=share))
    comp.add("chain_clock", chain_clock)  # dev chain time on an accelerated clock (tests)
    comp.add("chain", rpc_chain)
    comp.add("oracle", oracle)
    comp.add("coordinator", coordinator)  # centralized/hybrid designs only
    comp.add("p2p_state", p2p_state)  # each house's P2P totals, retained, for Home Assistant
    comp.add("homeassistant", homeassistant)  # discovery configs, off unless enabled
    comp.add("thingspeak", thingspeak)  # optional uplink, off unless [thingspeak] enabled
    comp.add("grid", grid_check)  # [grid]: the feeder and the houses' buses, checked
    comp.add("web", services.web)
    return comp


def serve_parts(settings: Settings, clock: Clock | None = None) -> Parts:
    """Shared state of a served community (houses from the config) on ``clock``: the
    wall clock unless given (an accelerated one is for tests and benchmarks only)."""
    return Parts(
        settings=settings,
        clock=clock or Clock(start=datetime.now(UTC), speed=1.0),
        data_dir=settings.data_dir or Path("."),
        houses=served_houses(settings),
        traces=[],
    )
