"""The optional ThingSpeak uplink as a service of ``serve`` (and ``demo``): every
``poll_s`` wall seconds the houses' latest readings are read from the store and the due
channels are updated (:class:`~gridpeer.store.thingspeak.ThingSpeakUplink`). Off unless
``[thingspeak] enabled = true``. Needs ``parts.store``.

``serve`` runs it after the store (``serve_composition``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from gridpeer.runtime.composition import Parts
from gridpeer.store.thingspeak import ThingSpeakSettings, ThingSpeakUplink

log = logging.getLogger(__name__)

POLL_S = 1.0
"""Wall seconds between two looks at the store (the uplink rate-limits each channel)."""


async def run_uplink(uplink: ThingSpeakUplink, parts: Parts, poll_s: float = POLL_S) -> None:
    """Feed the store's latest readings to ``uplink`` until cancelled."""
    store = parts.store
    assert store is not None, "thingspeak needs the store service"
    while True:
        try:
            samples = await asyncio.to_thread(store.latest)
            uplink.offer(samples)
            await asyncio.to_thread(uplink.flush)
        except Exception:  # a store outage or a bug must not stop serve
            log.exception("ThingSpeak uplink step failed")
        await asyncio.sleep(poll_s)


@contextlib.asynccontextmanager
async def thingspeak(parts: Parts) -> AsyncIterator[None]:
    """Run the uplink while the community runs (nothing when it is disabled)."""
    settings = ThingSpeakSettings.model_validate(parts.settings.thingspeak)
    if not settings.enabled:
        yield
        return
    uplink = ThingSpeakUplink(settings)
    log.info(
        "ThingSpeak uplink: %d channels at most every %g s",
        len(settings.channels),
        settings.min_interval_s,
    )
    task = asyncio.create_task(run_uplink(uplink, parts))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
