"""The delivery service of ``gridpeer demo``: the oracle and one delivery agent per house,
metering the simulated houses (each seller limited by its real PV surplus + battery).

It needs ``parts.broker`` and, from the ``chain`` service, ``parts.chain`` (the oracle's
key) and ``parts.hub`` (the market, the houses' dev keys and the chain lock). Sets
``parts.delivery`` (the :class:`~gridpeer.runtime.delivery_runtime.DeliveryRuntime`).
On a JSON-RPC node (anvil: the demo beyond 50 houses) the oracle runs in a process of its
own (:mod:`gridpeer.runtime.oracle_process`), its passes started by the demo's ``clock``
service once model time runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from gridpeer.devices.trace import as_source
from gridpeer.hems.delivery_power import P2PLine, PowerSource, TracePower
from gridpeer.oracle.service import OracleConfig
from gridpeer.runtime.composition import Parts
from gridpeer.runtime.delivery_runtime import DeliveryRuntime


@contextlib.asynccontextmanager
async def delivery(parts: Parts) -> AsyncIterator[None]:
    """Start the oracle and the agents on entry, stop them on exit (state kept on disk)."""
    hub, chain, broker = parts.hub, parts.chain, parts.broker
    assert hub is not None and chain is not None and broker is not None, "needs chain, broker"
    houses = {str(hub.demo_keys[h.id].address): h.id for h in parts.houses}
    line = P2PLine()  # the buyer's IN meter reads what the seller pushes
    power: dict[str, PowerSource] = {}
    for h, trace in zip(parts.houses, parts.traces, strict=True):
        source = as_source(trace)  # the house's own day, every day of the run
        power[h.id] = TracePower(
            source, bess_max_w=1500.0 if source.has_battery else 0.0, line=line
        )
    # Results are awaited 600 model s after a window: less than the demo market's reclaim
    # grace (15 min), so deliveries settle before a buyer could reclaim. A 0.2 s poll keeps
    # the in-process chain free for the web app and the traders.
    config = OracleConfig(
        community=parts.settings.community, lead_s=300.0, result_grace_s=600.0, poll_s=0.2
    )
    state_dir = parts.data_dir / "delivery"
    state_dir.mkdir(parents=True, exist_ok=True)
    rpc = _node_url(parts)
    rt = DeliveryRuntime(
        hub.market,
        chain.oracle,
        houses,
        broker.host,
        broker.port,
        state_dir,
        parts.clock,
        config,
        power=power,
        lock=None if rpc else hub.lock,
        oracle_rpc=rpc,
    )
    await asyncio.to_thread(rt.start)
    parts.delivery = rt
    try:
        yield
    finally:
        await asyncio.to_thread(rt.stop)


def _node_url(parts: Parts) -> str | None:
    """The chain node's JSON-RPC URL when the demo runs on one (anvil for a big demo): the
    oracle then runs in a process of its own with its own connection (behind the hub's
    lock it waited its turn after each of 1,000 trading agents' transactions, and in the
    demo's process for the interpreter lock); None on the in-process chain, where the
    oracle shares the hub's connection and lock (eth-tester is not thread-safe)."""
    from gridpeer.chain.web3_backend import Web3Backend

    hub = parts.hub
    assert hub is not None
    backend = hub.market.backend
    if isinstance(backend, Web3Backend) and backend.kind == "rpc" and parts.chain_url:
        return parts.chain_url
    return None
