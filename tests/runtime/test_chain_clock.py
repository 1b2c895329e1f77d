"""serve's chain clock: on an accelerated model clock a dev chain's block time follows
model time (only forward); on the wall clock it does nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridpeer.chain.anvil import AnvilNode, rpc
from gridpeer.core.clock import Clock, epoch_clock
from gridpeer.core.settings import Settings
from gridpeer.runtime.chain_clock import chain_clock, follows_wall
from gridpeer.runtime.composition import Parts

pytestmark = pytest.mark.anvil
SPEED = 3600.0


@pytest.fixture(scope="module")
def anvil() -> Iterator[str]:
    with AnvilNode() as node:
        yield node.url


def _parts(url: str, clock: Clock) -> Parts:
    settings = Settings.model_validate(
        {"chain": {"rpc_url": url, "contract_address": "0x" + "11" * 20}}
    )
    return Parts(settings=settings, clock=clock, data_dir=Path("."), houses=[], traces=[])


def _block_time(url: str) -> int:
    rpc(url, "evm_mine")  # a block at the timestamp set for the next one
    block = rpc(url, "eth_getBlockByNumber", ["latest", False])
    assert isinstance(block, dict)
    return int(block["timestamp"], 16)


def test_wall_and_model_clocks() -> None:
    now = time.time()
    assert follows_wall(Clock(), now)
    assert not follows_wall(Clock(speed=SPEED), now)
    assert not follows_wall(epoch_clock(datetime.now(UTC) + timedelta(days=2), 1.0, now), now)


def test_chain_time_follows_an_accelerated_clock(anvil: str) -> None:
    start = datetime.fromtimestamp(_block_time(anvil) + 3600, UTC)
    clock = epoch_clock(start, SPEED, time.time())

    async def run() -> list[tuple[int, float]]:
        seen = []
        async with chain_clock(_parts(anvil, clock)):
            for _ in range(3):
                await asyncio.sleep(0.5)
                seen.append((await asyncio.to_thread(_block_time, anvil), clock.timestamp()))
        return seen

    seen = asyncio.run(run())
    for chain_ts, model_ts in seen:  # never ahead of model time, not left behind either
        assert model_ts - 5 * SPEED <= chain_ts <= model_ts + 2
    assert seen[-1][0] > seen[0][0] + SPEED / 2  # far more than the wall's second


def test_wall_clock_leaves_chain_time_alone(anvil: str) -> None:
    before = _block_time(anvil)

    async def run() -> None:
        async with chain_clock(_parts(anvil, Clock())):
            await asyncio.sleep(0.3)

    asyncio.run(run())
    assert _block_time(anvil) <= before + 2
