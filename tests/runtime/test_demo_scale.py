"""1,000 houses live (issue 17): ``gridpeer demo --houses 1000`` through a real Mosquitto,
PostgreSQL and anvil, for the last minutes of a bidding session and its one-hour delivery
window (four 15-minute slots) at 120× — every reading stored once, every trade delivered
and confirmed once.

Every trade is confirmed, none disputed: the demo's houses share one simulated P2P line
that counts each trade's Wh, and both agents of a trade read that counter, also when a
seller has several buyers who each have other sellers (a pro-rata split of each house's
total made ~3 % of these trades disagree beyond the tolerance and be disputed).

The demo's own services run unchanged except the web app (not under test here). A probe,
the last service, watches the run: it stops it once every trade's window has passed and
each trade is settled (or at the deadline), and reads the chain's events before the chain
stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from gridpeer.chain.anvil import anvil_binary
from gridpeer.chain.events import DeliveryConfirmed, DisputeOpened, TradeCreated, decode_logs
from gridpeer.core.settings import load_settings
from gridpeer.runtime.composition import Parts
from gridpeer.runtime.demo import demo_composition, run_demo
from gridpeer.telemetry.broker import MOSQUITTO_BINARY

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres, pytest.mark.anvil, pytest.mark.slow]

HOUSES = 1000
SPEED = 120.0
START_H = 16.75
"""UTC: 12:45 in the demo's time zone (UTC-4), 15 minutes before bidding closes for the
13:00-14:00 delivery window."""
DURATION_H = 2.0
"""Deadline, model hours: the window ends 1.25 h after the start, the oracle confirms
within its 10-minute result grace."""


@dataclass
class Seen:
    """What the probe saw of the run."""

    start: datetime | None = None
    published: dict[str, int] = field(default_factory=dict)
    created: list[TradeCreated] = field(default_factory=list)
    confirmed: list[DeliveryConfirmed] = field(default_factory=list)
    disputed: list[DisputeOpened] = field(default_factory=list)


def _events(parts: Parts, seen: Seen) -> None:
    hub = parts.hub
    assert hub is not None
    with hub.lock:
        backend, address = hub.market.backend, hub.market.address
        head = backend.block_number()
        logs = backend.get_logs(address, 0, head)
        events = decode_logs(logs, hub.market.member_address)
    seen.created = [e for e in events if isinstance(e, TradeCreated)]
    seen.confirmed = [e for e in events if isinstance(e, DeliveryConfirmed)]
    seen.disputed = [e for e in events if isinstance(e, DisputeOpened)]


def probe(seen: Seen) -> object:
    @contextlib.asynccontextmanager
    async def service(parts: Parts) -> AsyncIterator[None]:
        seen.start = parts.clock.start

        async def watch() -> None:
            assert parts.hub is not None
            while not parts.hub.all_done(parts.clock.timestamp()):
                await asyncio.sleep(1.0)
            parts.stop.set()

        task = asyncio.create_task(watch())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert parts.monitoring is not None
            await asyncio.to_thread(_events, parts, seen)
            seen.monitoring = parts.monitoring  # type: ignore[attr-defined]

    return service


def test_thousand_houses_trade_deliver_and_store_everything_once(
    tmp_path: Path, postgres_url: str
) -> None:
    if not Path(MOSQUITTO_BINARY).exists():
        pytest.fail(f"Mosquitto not installed at {MOSQUITTO_BINARY} (apt-get install mosquitto)")
    anvil_binary()
    settings = load_settings(
        None,
        houses=HOUSES,
        speed=SPEED,
        data_dir=tmp_path,
        web={"port": 0},
        store_url=postgres_url,
    )
    comp = demo_composition()
    comp.services = [(n, s) for n, s in comp.services if n not in ("web-process", "web")]
    seen = Seen()
    comp.add("probe", probe(seen))  # type: ignore[arg-type]

    asyncio.run(run_demo(settings, START_H, DURATION_H, composition=comp))

    # trading: trades were made, each delivered and confirmed (or disputed) exactly once
    assert seen.created, "no trade in the bidding session"
    ids = [e.trade.id for e in seen.created]
    assert len(set(ids)) == len(ids)
    assert not seen.disputed, f"{len(seen.disputed)} of {len(ids)} trades disputed"
    outcomes = Counter(e.trade_id for e in seen.confirmed)
    assert set(outcomes) == set(ids), "a trade was not confirmed"
    assert set(outcomes.values()) == {1}, "a trade was confirmed twice"
    wh = {e.trade.id: e.trade.wh for e in seen.created}
    delivered = {e.trade_id: e.delivered_wh for e in seen.confirmed}
    assert all(0 <= d <= wh[t] for t, d in delivered.items())
    assert sum(delivered.values()) > 0.5 * sum(wh.values()), "the trades delivered little"

    # readings: every one the houses' sensor nodes published is in PostgreSQL, once
    mon = seen.monitoring  # type: ignore[attr-defined]
    published = sum(mon.published().values())
    assert seen.start is not None
    start_ms = int(seen.start.timestamp() * 1000)
    with psycopg.connect(postgres_url) as conn:
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (house, device, ts_ms)) FROM samples"
            " WHERE ts_ms >= %s",
            (start_ms,),
        ).fetchone() or (0, 0)
        by_device = conn.execute(
            "SELECT device, count(*), min(ts_ms) - %s, max(ts_ms) - %s FROM samples"
            " WHERE ts_ms >= %s GROUP BY device ORDER BY device",
            (start_ms, start_ms, start_ms),
        ).fetchall()
    assert published > 0
    assert stored == distinct == published, (stored, distinct, published, by_device)
