"""What the web app reads: the store, the clock, the houses, and the live cache."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, tzinfo

from fastapi import Request

from gridpeer.chain.hub import ChainHub
from gridpeer.core.clock import Clock
from gridpeer.core.defaults import (
    DEFAULT_CURRENCY,
    DEFAULT_FEED_IN_WEI_PER_KWH,
    DEFAULT_IMPORT_WEI_PER_KWH,
    DEFAULT_WEI_PER_UNIT,
)
from gridpeer.store.base import Store
from gridpeer.web.auth import Auth
from gridpeer.web.grid import LiveGrid
from gridpeer.web.live import LiveCache, local_day
from gridpeer.web.models import HouseInfo
from gridpeer.web.models_market import Currency
from gridpeer.web.order_book import OrderBook


@dataclass
class WebContext:
    """Shared state of one running web app.

    Attributes:
        store: telemetry store (read only here).
        clock: the model clock (real or accelerated).
        houses: the community's houses, in display order.
        community: community name.
        cache: live overview, refreshed in the background.
        stop: set when the server shuts down (ends live streams).
        chain: the market contract and its indexer; None when running without a chain.
        auth: Sign-In with Ethereum state and session cookie key.
        currency: how money is shown (code, wei per unit).
        tariff: grid (import, feed-in) prices, wei per kWh, for savings.
        tz: the community's time zone: "today" and a history's day start at its midnight.
        design: the market design (``[market] design`` in the settings).
        gate_s: gate closure of the centralized/hybrid designs, seconds before a delivery
            window (``[market] gate_s``).
        checks: readiness checks of dependencies by name (e.g. ``broker``), each raising
            with the reason when its dependency is down; ``/readyz`` runs them besides the
            built-in ``store`` and ``chain`` checks.
        members: member account (lower-case 0x…) → house id; with ``auth.private`` a
            house's telemetry is readable only by its members.
        grid: the feeder's live power flow (``[grid]``), or None without a feeder.
        order_book: the offers and requests rendered as JSON (made on first use).
    """

    store: Store
    clock: Clock
    houses: list[HouseInfo]
    community: str
    cache: LiveCache
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    chain: ChainHub | None = None
    auth: Auth = field(default_factory=Auth)
    currency: Currency = field(
        default_factory=lambda: Currency(
            code=DEFAULT_CURRENCY, wei_per_unit=str(DEFAULT_WEI_PER_UNIT)
        )
    )
    tariff: tuple[int, int] = (DEFAULT_IMPORT_WEI_PER_KWH, DEFAULT_FEED_IN_WEI_PER_KWH)
    tz: tzinfo = UTC
    design: str = "decentralized"
    gate_s: int = 60
    checks: dict[str, Callable[[], None]] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    grid: LiveGrid | None = None
    order_book: OrderBook | None = None

    @classmethod
    def create(
        cls,
        store: Store,
        clock: Clock,
        houses: list[HouseInfo],
        community: str = "demo",
        refresh_s: float = 1.0,
        tz: tzinfo = UTC,
        cache_store: Store | None = None,
    ) -> WebContext:
        """A context with a fresh live cache, which reads ``cache_store`` if given (a
        connection of its own: requests that read the store, e.g. a day of history, do
        not queue behind the refresh's queries), else ``store``."""
        cache = LiveCache(cache_store or store, clock, houses, community, refresh_s, tz)
        return cls(store=store, clock=clock, houses=houses, community=community, cache=cache, tz=tz)

    def today(self) -> date:
        """Today in the community's time zone (model time)."""
        return local_day(self.clock.now(), self.tz)

    def house(self, house_id: str) -> HouseInfo | None:
        """The house with this id, or None."""
        return next((h for h in self.houses if h.id == house_id), None)


def get_context(request: Request) -> WebContext:
    """FastAPI dependency: the app's context."""
    ctx: WebContext = request.app.state.ctx
    return ctx
