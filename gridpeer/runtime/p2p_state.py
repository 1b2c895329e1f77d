"""The houses' P2P totals for Home Assistant, as a service of ``serve``: every ``POLL_S``
wall seconds the trades the oracle confirmed are summed per house and each house's
retained state (``gridpeer/<community>/<house>/p2p/state``) is published when it changed
(:class:`~gridpeer.telemetry.p2p_state.P2PStatePublisher`). Runs only with the oracle
(``parts.oracle``). A dispute the admin resolved on chain is not counted (the oracle does
not learn its Wh); one settled from a community meter is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from gridpeer.oracle.recovery import Outage
from gridpeer.oracle.state import TradeState
from gridpeer.runtime.composition import Parts
from gridpeer.telemetry.p2p_state import P2PStatePublisher, SettledTrade

log = logging.getLogger(__name__)

POLL_S = 2.0
"""Wall seconds between two looks at the oracle's confirmed trades."""


def settled_trades(parts: Parts) -> list[SettledTrade]:
    """The trades the oracle confirmed, with the Wh the contract paid for."""
    assert parts.oracle is not None
    return [
        SettledTrade(t.seller, t.buyer, t.delivered_wh, t.price_wei_per_kwh)
        for t in parts.oracle.state.trades(TradeState.CONFIRMED)
        if t.delivered_wh is not None
    ]


async def _run(pub: P2PStatePublisher, parts: Parts, poll_s: float = POLL_S) -> None:
    """Update the totals every ``poll_s`` wall seconds until cancelled. A failure (the
    database or the broker away) is logged once when it starts and once when it ends,
    not every round with a traceback."""
    outage = Outage("P2P totals (oracle state or broker)", log)
    while True:
        try:
            trades = await asyncio.to_thread(settled_trades, parts)
            await asyncio.to_thread(pub.update, trades, parts.clock.now())
        except Exception as exc:  # an outage must not stop serve: next round
            outage.failed(exc)
        else:
            outage.ok()
        await asyncio.sleep(poll_s)


@contextlib.asynccontextmanager
async def p2p_state(parts: Parts) -> AsyncIterator[None]:
    """Publish the P2P totals while the oracle runs (nothing without it)."""
    if parts.oracle is None:
        yield
        return
    s = parts.settings
    m = s.mqtt
    credentials = (m.username, m.password.get_secret_value()) if m.username and m.password else None
    pub = P2PStatePublisher(
        m.host,
        m.port,
        s.community,
        [a.id for a in s.accounts],
        s.tariff.currency,
        s.tariff.wei_per_unit,
        credentials,
        m.address().tls,
    )
    await asyncio.to_thread(pub.start)
    task = asyncio.create_task(_run(pub, parts))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(pub.stop)
