"""The coordinator service of ``demo`` and ``serve`` (``[market] design`` centralized or
hybrid): takes signed orders over MQTT (the web process takes them over HTTP, into the
same store), clears them at gate closure (centralized) or continuously (hybrid), and
settles each window's batch on chain. Nothing runs for the decentralized design.

Needs ``parts.hub`` (the market and the chain lock), ``parts.store``/``parts.store_url``,
and the coordinator key: the dev key (demo, ``parts.chain``) or ``[chain]
coordinator_key`` (serve). With ``parts.broker`` it also listens on
``gridpeer/<community>/orders/<house>``. Sets ``parts.coordinator`` (in-process agents
hand it signed orders with ``accept``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from eth_account.signers.local import LocalAccount

from gridpeer.coordinator.preferences import Community
from gridpeer.coordinator.service import Coordinator
from gridpeer.market.clearing import GridPrices
from gridpeer.runtime.composition import Parts
from gridpeer.store.factory import open_store

log = logging.getLogger(__name__)

POLL_S = 0.2
"""Wall seconds between the coordinator's ticks."""


def coordinator_key(parts: Parts) -> LocalAccount:
    """The coordinator's key: its keystore ``[keys.coordinator]`` or ``[chain]
    coordinator_key``, else the demo chain's dev key.

    Raises:
        ValueError: none is available, or the keystore cannot be unlocked.
    """
    from gridpeer.coordinator.process import role_key

    s = parts.settings
    if "coordinator" in s.keys or s.chain.coordinator_key is not None:
        return role_key(s)
    if parts.chain is not None:
        return parts.chain.coordinator
    raise ValueError(
        f"market.design = {parts.settings.market.design!r} needs the coordinator's key: "
        "set [keys.coordinator] (gridpeer admin keys new coordinator) or [chain] "
        "coordinator_key (GRIDPEER_CHAIN__COORDINATOR_KEY)"
    )


def build(parts: Parts) -> Coordinator:
    """The coordinator of this run (not started)."""
    hub = parts.hub
    assert hub is not None, "the coordinator needs the chain service first"
    assert parts.store is not None, "the coordinator needs the store service first"
    market = parts.settings.market
    tariff = parts.settings.tariff
    houses = {h.account: h.id for h in parts.houses if h.account is not None}
    houses |= {k.address: h for h, k in hub.demo_keys.items()}
    store = open_store(parts.store_url) if parts.store_url else parts.store
    return Coordinator(
        hub.market,
        coordinator_key(parts),
        houses,
        mode=market.design,  # type: ignore[arg-type]
        mechanism=market.mechanism,
        grid=GridPrices(tariff.import_wei_per_kwh, tariff.feed_in_wei_per_kwh),
        gate_s=market.gate_s,
        now=lambda: int(parts.clock.timestamp()),
        store=store,
        chain_lock=hub.lock,
        community=preference_community(parts),
    )


DEMO_ZONES = 3
"""The demo's houses lie in this many zones (round-robin, as the simulator's
``[market_structure] zones``), for buyers' local preference."""


def preference_community(parts: Parts) -> Community:
    """Zones and green houses for local and green preferences: ``serve``'s
    ``[[accounts]]`` (``zone``, ``green``), or for the demo's houses
    :data:`DEMO_ZONES` zones round-robin and every house with PV green."""
    from gridpeer.coordinator.preferences import community_of
    from gridpeer.coordinator.process import account_community

    if parts.settings.accounts:
        return account_community(parts.settings)
    return community_of(
        [(h.id, f"zone-{i % DEMO_ZONES + 1}", h.pv_kwp > 0) for i, h in enumerate(parts.houses)]
    )


@contextlib.asynccontextmanager
async def coordinator(parts: Parts) -> AsyncIterator[None]:
    """Start the coordinator (and its MQTT intake) on entry, stop it on exit."""
    if parts.settings.market.design == "decentralized":
        yield
        return
    try:
        coord = build(parts)
    except ValueError as exc:
        log.warning("the coordinator is not running (orders are not settled): %s", exc)
        yield
        return
    intake = None
    if parts.broker is not None:
        from gridpeer.coordinator.mqtt_intake import MqttIntake

        intake = MqttIntake(coord, parts.broker, parts.settings.community)
        await asyncio.to_thread(intake.start)
    await asyncio.to_thread(coord.start, POLL_S)
    parts.coordinator = coord
    log.info(
        "coordinator: %s market, gate closure %d s before each window",
        coord.mode,
        coord.gate_s,
    )
    try:
        yield
    finally:
        parts.coordinator = None
        await asyncio.to_thread(coord.stop)
        if intake is not None:
            await asyncio.to_thread(intake.stop)
        if coord.store is not parts.store:
            coord.store.close()
