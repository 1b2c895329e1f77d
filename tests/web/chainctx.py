"""A web context over a real embedded chain: market deployed, thesis windows (UTC-4),
houses h1..h3 as members with dev keys, the model clock at 11:00 local tomorrow."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.hub import ChainHub
from gridpeer.core.clock import Clock
from gridpeer.store.factory import open_store
from gridpeer.web.context import WebContext
from tests.web.conftest import HOUSES


def chain_context() -> WebContext:
    chain = open_chain("embedded")
    market = chain.deploy_market()
    market.set_schedule(chain.admin, Schedule("windows", tz_minutes=-240))
    keys = chain.houses(len(HOUSES), market)
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    clock = Clock(start=datetime.combine(tomorrow, time(15), tzinfo=UTC), speed=1.0)
    hub = ChainHub(market, clock, {h.id: k for h, k in zip(HOUSES, keys, strict=True)})
    hub.sync_time()
    hub.poll()
    houses = [
        h.model_copy(update={"account": k.address}) for h, k in zip(HOUSES, keys, strict=True)
    ]
    ctx = WebContext.create(open_store("sqlite:///:memory:"), clock, houses, community="lab")
    ctx.chain = hub
    return ctx
