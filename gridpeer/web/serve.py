"""``gridpeer serve``: the community against real parts — an external MQTT broker
(Mosquitto with per-house accounts and ACLs), PostgreSQL (or SQLite), and an Ethereum
JSON-RPC node with an already deployed market. Real sensor nodes publish the readings;
the home agents' ingest stores them; the web app serves them. Real time (speed 1)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from gridpeer.config import Settings
from gridpeer.sim.clock import Clock
from gridpeer.web.demo import Composition, Parts
from gridpeer.web.models import HouseInfo, HouseKind


def served_houses(settings: Settings) -> list[HouseInfo]:
    """Display info of the configured houses (``[[accounts]]``)."""
    return [
        HouseInfo(
            id=a.id,
            name=a.name or f"House {a.id}",
            kind=HouseKind(a.kind),
            pv_kwp=a.pv_kwp,
            bess_kwh=a.bess_kwh,
        )
        for a in settings.accounts
    ]


@contextlib.asynccontextmanager
async def ingest(parts: Parts) -> AsyncIterator[None]:
    """The home agents' ingest: every house's readings from the broker into the store."""
    from gridpeer.hems.host import AgentHost
    from gridpeer.telemetry.broker import BrokerAddress

    assert parts.store is not None, "ingest needs the store service first"
    m = parts.settings.mqtt
    password = m.password.get_secret_value() if m.password else None
    broker = BrokerAddress(m.host, m.port, m.username, password)
    host = AgentHost(parts.settings.community, [h.id for h in parts.houses], broker, parts.store)
    parts.extras["ingest"] = host
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
    from gridpeer.chain.web3_backend import Web3Backend
    from gridpeer.web.chainhub import ChainHub
    from gridpeer.web.services import running_hub

    backend = await asyncio.to_thread(Web3Backend.rpc, parts.settings.chain.rpc_url)
    hub = ChainHub(MarketClient(backend, address), parts.clock, follow_clock=False)
    async with running_hub(parts, hub):
        yield


def serve_composition() -> Composition:
    """store, ingest (agents), chain (deployed market), web."""
    from gridpeer.web import services

    comp = Composition()
    comp.add("store", services.store)
    comp.add("ingest", ingest)
    comp.add("chain", rpc_chain)
    comp.add("web", services.web)
    return comp


def serve_parts(settings: Settings) -> Parts:
    """Shared state of a served community (real-time clock, houses from the config)."""
    from pathlib import Path

    return Parts(
        settings=settings,
        clock=Clock(start=datetime.now(UTC), speed=1.0),
        data_dir=settings.data_dir or Path("."),
        houses=served_houses(settings),
        traces=[],
    )
