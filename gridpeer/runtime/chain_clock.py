"""Chain time on an accelerated model clock, for ``gridpeer serve --speed`` (tests and the
soak benchmark only).

``serve`` normally runs at wall speed against a node whose blocks carry wall time. When
its model clock is accelerated or shifted (``serve --speed N --clock-start ISO
--clock-wall0 EPOCH``), the contract's ``block.timestamp`` must follow the same model
time, or windows would open and close on the node's clock instead of the oracle's. This
service pushes the node's next block timestamp up to model time every ``interval_s``
wall seconds with ``evm_setNextBlockTimestamp``, as the demo's chain hub does, but on a
connection of its own (a slow indexer poll does not hold chain time back). Chain time only
moves forward; it lags model time by at most ``interval_s × speed`` model seconds.

Only development chains (anvil, Hardhat, Ganache, geth --dev) take it: ``serve`` refuses
an accelerated clock against any other node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from gridpeer.core.clock import Clock
from gridpeer.core.settings import ConfigError
from gridpeer.runtime.composition import Parts

if TYPE_CHECKING:
    from gridpeer.chain.web3_backend import Web3Backend

log = logging.getLogger(__name__)

WALL_TOLERANCE_S = 60.0
"""A clock within this many seconds of the wall clock at speed 1 is the wall clock."""


def follows_wall(clock: Clock, now: float | None = None) -> bool:
    """True when ``clock`` is the wall clock (speed 1, within :data:`WALL_TOLERANCE_S`)."""
    wall = time.time() if now is None else now
    return clock.speed == 1.0 and abs(clock.timestamp() - wall) <= WALL_TOLERANCE_S


def push_time(backend: Web3Backend, target: int) -> bool:
    """Set the node's next block timestamp to ``target`` (POSIX s) unless its latest block
    is already there; returns True if it was set. Errors of a race (another transaction
    mined in between) are ignored, the next round sets it again."""
    now = backend.now()
    if target <= now + 1:
        return False
    backend.set_time(target)
    return True


@contextlib.asynccontextmanager
async def chain_clock(parts: Parts, interval_s: float = 0.1) -> AsyncIterator[None]:
    """While ``serve`` runs on an accelerated or shifted model clock, keep the dev chain's
    time on it (see module docs); a no-op on the wall clock or without a chain.

    Raises:
        ConfigError: the clock is not the wall clock but the node is no development chain.
    """
    c = parts.settings.chain
    if follows_wall(parts.clock) or c.contract_address is None:
        yield
        return
    from gridpeer.chain.dev_chains import DEV_CHAIN_IDS
    from gridpeer.chain.web3_backend import Web3Backend

    backend = await asyncio.to_thread(Web3Backend.rpc, c.rpc_url, 10.0)
    if backend.chain_id not in DEV_CHAIN_IDS:
        backend.close()
        raise ConfigError(
            f"serve --speed/--clock-start need a development chain (chain id in "
            f"{sorted(DEV_CHAIN_IDS)}), but {c.rpc_url} is chain {backend.chain_id}"
        )
    stop = asyncio.Event()

    async def run() -> None:
        failing = False
        while not stop.is_set():
            try:
                await asyncio.to_thread(push_time, backend, int(parts.clock.timestamp()))
                if failing:
                    log.info("chain clock: following model time again")
                failing = False
            except Exception as exc:  # the node is away or another tx won the race
                if not failing:
                    log.warning("chain clock: cannot set chain time (%s); retrying", exc)
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    task = asyncio.create_task(run(), name="chain-clock")
    log.info(
        "chain clock: %s follows model time (%g× from %s)",
        c.rpc_url,
        parts.clock.speed,
        parts.clock.now().isoformat(timespec="seconds"),
    )
    try:
        yield
    finally:
        stop.set()
        await task
        backend.close()
