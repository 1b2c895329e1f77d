"""Demo services for metered delivery: every house's delivery agent (relays driven by
its simulated power flows) and the oracle (chain trades → delivery commands over MQTT;
metered results → ``confirmDelivery`` on chain). Built from the oracle and hems layers;
a plugin module that provides an ``oracle`` service replaces these (see
:data:`gridpeer.web.demo.DEMO_PLUGINS`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from gridpeer.web.demo import Parts

ORACLE_LEAD_S = 300.0
"""Model seconds before a delivery window at which the oracle commands both houses."""
ORACLE_RESULT_GRACE_S = 600.0
"""Model seconds after a window the oracle waits for both meters (less than the demo's
reclaim grace, so deliveries settle before the buyer could reclaim)."""
AGENT_TICK_S = 0.25
"""Wall seconds between two metering steps of a delivery agent (60 model s at 240x)."""
LINE_MAX_W = 3000.0
"""Rating of the peer-to-peer line between two houses, W."""


@contextlib.asynccontextmanager
async def delivery_agents(parts: Parts) -> AsyncIterator[None]:
    """One delivery agent per house, metering what its trace can push (OUT: PV surplus
    plus battery above reserve) or absorb (IN), in Wh, on the model clock."""
    from gridpeer.hems.delivery_agent import DeliveryAgent
    from gridpeer.hems.delivery_power import TracePower

    assert parts.broker is not None, "delivery agents need the broker service first"
    state = parts.data_dir / "delivery"
    state.mkdir(parents=True, exist_ok=True)
    agents = []
    for info, trace in zip(parts.houses, parts.traces, strict=True):
        power = TracePower(trace, line_max_w=LINE_MAX_W, bess_max_w=info.bess_kwh * 500.0)
        agents.append(
            DeliveryAgent(
                parts.settings.community,
                info.id,
                parts.broker.host,
                parts.broker.port,
                state / f"{info.id}.db",
                parts.clock,
                power,
                tick_s=AGENT_TICK_S,
            )
        )
    started = []
    try:
        for agent in agents:
            await asyncio.to_thread(agent.start)
            started.append(agent)
        parts.extras["delivery_agents"] = {a.house: a for a in agents}
        yield
    finally:
        for agent in reversed(started):
            await asyncio.to_thread(agent.stop)


@contextlib.asynccontextmanager
async def oracle(parts: Parts) -> AsyncIterator[None]:
    """The oracle with the dev oracle key, sharing the chain through the hub's lock."""
    from gridpeer.oracle.chain_adapter import MarketChainView
    from gridpeer.oracle.service import Oracle, OracleConfig
    from gridpeer.oracle.state import OracleState

    hub = parts.extras["chain_hub"]
    chain = parts.extras["chain"]
    assert parts.broker is not None, "the oracle needs the broker service first"
    houses = {key.address: house for house, key in hub.demo_keys.items()}
    view = MarketChainView(hub.market, chain.oracle, houses, lock=hub.lock)
    config = OracleConfig(
        community=parts.settings.community,
        lead_s=ORACLE_LEAD_S,
        result_grace_s=ORACLE_RESULT_GRACE_S,
        poll_s=0.2,
    )
    state = OracleState(f"sqlite:///{parts.data_dir / 'oracle.db'}")
    service = Oracle(view, state, parts.broker.host, parts.broker.port, parts.clock, config)
    await asyncio.to_thread(service.start)
    parts.extras["oracle"] = service
    try:
        yield
    finally:
        await asyncio.to_thread(service.stop)
        state.close()
