"""The web app's view of the chain: one worker thread for every chain call (the clients
are synchronous and not thread-safe), an event indexer (orders, trades, decoded events),
chain time following the model clock on dev chains, and the demo houses' dev keys.

Units: energy Wh, prices wei per kWh, money wei, times UTC unix seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount

from gridpeer.chain.client import MarketClient
from gridpeer.chain.events import (
    AdminEvent,
    Cancelled,
    ConfirmSkipped,
    DeliveryConfirmed,
    DisputeOpened,
    DisputeResolved,
    Event,
    MoneyMoved,
    OrderPosted,
    Reclaimed,
    TradeCreated,
)
from gridpeer.chain.fairlock import FairLock
from gridpeer.chain.types import Order, Schedule
from gridpeer.core.clock import Clock

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class TradeRow:
    """A trade and what became of it.

    ``status``: ``open`` (escrowed, not settled), ``settled`` (oracle confirmed
    ``delivered_wh``), ``reclaimed`` (buyer took the escrow back)."""

    id: int
    order_id: int
    seller: str
    buyer: str
    wh: int
    price: int
    start: int
    end: int
    escrow: int
    block: int
    status: str = "open"
    delivered_wh: int | None = None
    seller_paid: int | None = None
    buyer_refund: int | None = None
    grace_s: int = 0  # this trade's own grace after ``end`` (s); reclaim from end + grace + 1
    disputed: bool = False


@dataclass(frozen=True)
class EventRow:
    """A decoded contract event for the explorer."""

    block: int
    tx: str
    log_index: int
    name: str
    fields: dict[str, str | int]


@dataclass
class ChainHub:
    """Chain access for the web app (see module docs).

    Attributes:
        market: the deployed market client.
        clock: model clock; on dev chains chain time is pushed to follow it.
        demo_keys: house id → dev account the server signs with (demo only; empty in serve).
        members: member account (lower-case 0x…) → house id, from the community config
            (``serve``); :meth:`house_of` knows these and the demo keys.
        follow_clock: advance chain time to model time (dev chains only).
        lock: held around every chain call made through :meth:`call`; other threads that
            use the same in-process backend (e.g. the oracle's ``MarketChainView(...,
            lock=hub.lock)``) must hold it too.
    """

    market: MarketClient
    clock: Clock
    demo_keys: dict[str, LocalAccount] = field(default_factory=dict)
    follow_clock: bool = True
    members: dict[str, str] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    trades: dict[int, TradeRow] = field(default_factory=dict)
    events: deque[EventRow] = field(default_factory=lambda: deque(maxlen=500))
    cursor: int = 0
    schedule: Schedule | None = None
    version: int = 0
    lock: FairLock = field(default_factory=FairLock)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="chain")
    )

    # ---------------------------------------------------------------- threading
    async def call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run ``fn`` on the chain thread (serialised with every other chain call)."""
        loop = asyncio.get_running_loop()

        def locked() -> T:
            with self.lock:
                return fn(*args, **kw)

        return await loop.run_in_executor(self._pool, locked)

    def close(self) -> None:
        """Stop the chain thread (after the pending calls)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ---------------------------------------------------------------- accounts
    def house_of(self, address: str) -> str | None:
        """The house whose member account is ``address`` (configured, or a demo house's
        dev account), if any."""
        a = address.lower()
        if a in self.members:
            return self.members[a]
        return next((h for h, k in self.demo_keys.items() if k.address.lower() == a), None)

    # ---------------------------------------------------------------- sync work
    def sync_time(self) -> None:
        """Move chain time up to model time (dev chains; no-op when already there)."""
        if not self.follow_clock:
            return
        target = int(self.clock.timestamp())
        if target > self.market.now() + 1:
            try:
                self.market.set_time(target)
            except Exception:
                if self.market.now() + 1 < target:
                    raise
                # another process (the demo's web app or its simulation) got there first

    def poll(self) -> int:
        """Index new events up to the chain head; returns how many were applied."""
        head = self.market.backend.block_number()
        if head < self.cursor:
            return 0
        events = self.market.events(self.cursor, head)
        touched: set[int] = set()
        for ev in events:
            self._apply(ev, touched)
        for oid in touched:
            order = self.market.order(oid)
            if order is None or order.remaining_wh == 0:
                self.orders.pop(oid, None)
            else:
                self.orders[oid] = order
        self.cursor = head + 1
        if self.schedule is None or any(
            isinstance(e, AdminEvent) and e.name == "ScheduleSet" for e in events
        ):
            self.schedule = self.market.schedule()
        if events:
            self.version += 1
        return len(events)

    def _apply(self, ev: Event, touched: set[int]) -> None:
        m = ev.meta
        fields: dict[str, str | int]
        if isinstance(ev, OrderPosted):
            o = ev.order
            self.orders[o.id] = o
            name = "OfferPosted" if o.side == "offer" else "RequestPosted"
            fields = {
                "id": o.id,
                "owner": o.owner,
                "wh": o.remaining_wh,
                "price": o.price,
                "start": o.start,
                "end": o.end,
            }
        elif isinstance(ev, TradeCreated):
            t = ev.trade
            self.trades[t.id] = TradeRow(
                t.id,
                ev.order_id,
                t.seller,
                t.buyer,
                t.wh,
                t.price,
                t.start,
                t.end,
                t.escrow,
                m.block_number,
                grace_s=t.grace_s,
            )
            if ev.order_id:
                touched.add(ev.order_id)
            name = "TradeCreated"
            fields = {
                "trade": t.id,
                "order": ev.order_id,
                "seller": t.seller,
                "buyer": t.buyer,
                "wh": t.wh,
                "price": t.price,
                "escrow": t.escrow,
            }
        elif isinstance(ev, DeliveryConfirmed):
            row = self.trades.get(ev.trade_id)
            if row is not None:
                row.status, row.delivered_wh = "settled", ev.delivered_wh
                row.seller_paid, row.buyer_refund = ev.seller_paid, ev.buyer_refund
            name = "DeliveryConfirmed"
            fields = {
                "trade": ev.trade_id,
                "delivered_wh": ev.delivered_wh,
                "seller_paid": ev.seller_paid,
                "buyer_refund": ev.buyer_refund,
            }
        elif isinstance(ev, Reclaimed):
            row = self.trades.get(ev.trade_id)
            if row is not None:
                row.status, row.buyer_refund = "reclaimed", ev.refund
            name, fields = "Reclaimed", {"trade": ev.trade_id, "refund": ev.refund}
        elif isinstance(ev, Cancelled):
            touched.add(ev.order_id)
            name = "Cancelled"
            fields = {"order": ev.order_id, "remaining_wh": ev.remaining_wh, "refund": ev.refund}
        elif isinstance(ev, MoneyMoved):
            name = "Withdrawn" if ev.kind == "withdraw" else "Deposited"
            fields = {"member": ev.member, "amount": ev.amount}
        elif isinstance(ev, ConfirmSkipped):
            name, fields = "ConfirmSkipped", {"trade": ev.trade_id, "reason": ev.reason}
        elif isinstance(ev, DisputeOpened | DisputeResolved):
            row = self.trades.get(ev.trade_id)
            if row is not None:
                row.disputed = isinstance(ev, DisputeOpened)
            name = type(ev).__name__
            fields = {k: v for k, v in vars(ev).items() if k != "meta"}
        else:
            name = ev.name
            fields = {k: v if isinstance(v, int) else str(v) for k, v in ev.fields.items()}
        self.events.appendleft(
            EventRow(m.block_number, "0x" + m.tx_hash.hex(), m.log_index, name, fields)
        )

    # ---------------------------------------------------------------- loop
    async def run(self, stop: asyncio.Event, interval_s: float = 0.5) -> None:
        """Follow the clock and index events every ``interval_s`` wall seconds."""
        while not stop.is_set():
            try:
                await self.call(self.sync_time)
                await self.call(self.poll)
            except Exception:
                log.exception("chain poll failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
