"""The ThingSpeak service reads the store's latest readings and updates the channels of a
local stand-in; disabled (the default) it does nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from gridpeer.core.clock import Clock
from gridpeer.core.settings import Settings
from gridpeer.runtime.composition import Parts
from gridpeer.runtime.thingspeak import thingspeak
from gridpeer.store.base import Sample
from gridpeer.store.factory import open_store
from tests.store.test_thingspeak import KEY, StandIn


def parts(tmp: Path, config: dict[str, object]) -> Parts:
    p = Parts(
        settings=Settings(thingspeak=config),
        clock=Clock(),
        data_dir=tmp,
        houses=[],
        traces=[],
    )
    p.store = open_store(f"sqlite:///{tmp / 'gp.db'}")
    return p


def test_the_service_uplinks_stored_readings(tmp_path: Path) -> None:
    stand_in = StandIn()
    config = {
        "enabled": True,
        "url": stand_in.url,
        "channels": [{"house": "h2", "write_key": KEY, "fields": {"field3": "pv.p"}}],
    }
    p = parts(tmp_path, config)
    assert p.store is not None
    ts = datetime(2026, 6, 1, 15, tzinfo=UTC)
    p.store.write([Sample("h2", "pv", ts, v=30.0, i=2.0, p=60.0)])

    async def run() -> None:
        async with thingspeak(p):
            for _ in range(100):
                if stand_in.requests:
                    return
                await asyncio.sleep(0.05)

    try:
        asyncio.run(run())
    finally:
        stand_in.stop()
        p.store.close()
    assert [r[3] for r in stand_in.requests] == [
        {"api_key": [KEY], "field3": ["60.0"], "created_at": ["2026-06-01T15:00:00Z"]}
    ]


def test_disabled_by_default(tmp_path: Path) -> None:
    p = parts(tmp_path, {})

    async def run() -> None:
        async with thingspeak(p):
            await asyncio.sleep(0)

    asyncio.run(run())
    assert p.store is not None
    p.store.close()
