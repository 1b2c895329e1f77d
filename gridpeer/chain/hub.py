"""The web app's view of the chain: one worker thread for every chain call (the clients
are synchronous and not thread-safe), an event indexer (orders, trades, decoded events),
chain time following the model clock on dev chains, and the demo houses' dev keys.

The indexer reads the market's logs from its deployment block (``start_block``) in chunks
of at most ``chunk_blocks`` blocks per ``eth_getLogs``, and commits each chunk to an
:class:`~gridpeer.chain.index.IndexStore` (the store in ``serve``: the cursor survives a
restart) with the hash of its last block. Before reading on it checks that the newest
remembered block is still canonical; after a reorg it rewinds to the common ancestor
(the rows go back to what they were there) and reads again. Memory is bounded: open
orders, open trades, the ``keep_trades`` most recent finished trades and the last 500
events; older trades are read from the index on demand (:meth:`ChainHub.trade`).

Units: energy Wh, prices wei per kWh, money wei, times UTC unix seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
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
from gridpeer.chain.index import (
    IndexStore,
    MemoryIndex,
    ReorgTooDeep,
    RowIn,
    common_ancestor,
    next_chunk,
)
from gridpeer.chain.types import Order, Schedule
from gridpeer.core.clock import Clock

log = logging.getLogger(__name__)
T = TypeVar("T")
EXPLORER_EVENTS = 500
"""Decoded events kept for the explorer (memory and index)."""


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
        index: where the cursor and indexed rows are kept (the store in ``serve``).
        start_block: the market's deployment block (nothing before it is read).
        chunk_blocks: most blocks per ``eth_getLogs``.
        max_chunks: most chunks read per :meth:`poll` (the chain thread stays responsive
            while catching up).
        confirmations: blocks mined on top of a block before it is indexed.
        keep_blocks: block hashes remembered for reorg checks.
        keep_trades: finished (settled, reclaimed) trades kept in memory.
        cursor: the next block to read.
        reorgs: reorgs survived so far.
    """

    market: MarketClient
    clock: Clock
    demo_keys: dict[str, LocalAccount] = field(default_factory=dict)
    follow_clock: bool = True
    members: dict[str, str] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    trades: dict[int, TradeRow] = field(default_factory=dict)
    events: deque[EventRow] = field(default_factory=lambda: deque(maxlen=EXPLORER_EVENTS))
    cursor: int = 0
    schedule: Schedule | None = None
    version: int = 0
    lock: FairLock = field(default_factory=FairLock)
    index: IndexStore = field(default_factory=MemoryIndex)
    start_block: int = 0
    chunk_blocks: int = 2000
    max_chunks: int = 10
    confirmations: int = 0
    keep_blocks: int = 64
    keep_trades: int = 2000
    reorgs: int = 0
    _loaded: bool = False
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="chain")
    )
    _owners: tuple[int, int, dict[str, str]] = (0, -1, {})

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
        return self._demo_owners().get(a)

    def _demo_owners(self) -> dict[str, str]:
        """Demo account (lower-case) → house, rebuilt when ``demo_keys`` is replaced or
        grows: one lookup per order listed, where a scan of 1,000 keys took 0.1 ms."""
        keys = self.demo_keys
        ident, size, owners = self._owners
        if ident != id(keys) or size != len(keys):
            owners = {k.address.lower(): h for h, k in reversed(keys.items())}  # first wins
            self._owners = (id(keys), len(keys), owners)
        return owners

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

    # ---------------------------------------------------------------- indexer
    @property
    def index_name(self) -> str:
        """The indexer's name in the index: the market's address (lower-case)."""
        return self.market.address.lower()

    def trade(self, trade_id: int) -> TradeRow | None:
        """A trade by id: from memory, else from the index (finished trades age out)."""
        row = self.trades.get(trade_id)
        if row is not None:
            return row
        got = self.index.index_row(self.index_name, "trade", trade_id)
        return TradeRow(**json.loads(got[2])) if got is not None else None

    def all_done(self, now: float) -> bool:
        """True when there are trades, every one's window ended before ``now`` (unix s)
        and each is settled or disputed (what a run that waits for its deliveries waits
        for; the benchmarks' and the 1,000-house test's stop condition)."""
        trades = list(self.trades.values())
        return bool(trades) and all(
            t.end < now and (t.status == "settled" or t.disputed) for t in trades
        )

    def load(self) -> None:
        """(Re)load the working set and the cursor from the index."""
        name = self.index_name
        self.orders = {
            r: _order(json.loads(b)) for r, _, b in self.index.index_rows(name, "order", True)
        }
        live = self.index.index_rows(name, "trade", live_only=True)
        recent = self.index.index_rows(name, "trade", limit=self.keep_trades + len(live))
        finished = [r for r in recent if not r[1]][: self.keep_trades]
        self.trades = {r: TradeRow(**json.loads(b)) for r, _, b in [*finished, *live]}
        events = self.index.index_rows(name, "event", limit=EXPLORER_EVENTS)
        self.events.clear()
        for _, _, body in sorted(events):
            self.events.appendleft(EventRow(**json.loads(body)))
        blocks = self.index.index_blocks(name)
        self.cursor = max(self.start_block, blocks[-1][0] + 1 if blocks else 0)
        self.schedule = None
        self._loaded = True
        self.version += 1

    def _hash(self, number: int) -> str | None:
        try:
            return "0x" + self.market.backend.block_hash(number).hex()
        except OSError:  # the node is down (requests' ConnectionError): not a reorg
            raise
        except Exception:  # a block the node does not have (any more)
            return None

    def _check_reorg(self) -> None:
        """Rewind to the common ancestor when the newest indexed block was replaced."""
        blocks = self.index.index_blocks(self.index_name)
        try:
            ancestor = common_ancestor(blocks, self._hash)
        except ReorgTooDeep as exc:
            log.error("chain index: %s; indexing again from the deployment block", exc)
            ancestor = -1
        if ancestor is None:
            return
        self.index.index_rewind(self.index_name, ancestor)
        self.reorgs += 1
        log.warning("chain index: reorg, rewound to block %s", ancestor)
        self.load()

    def poll(self) -> int:
        """Index new events up to the chain head (at most ``max_chunks`` chunks, each
        committed with its last block's hash); returns how many were applied."""
        if not self._loaded:
            self.load()
        backend = self.market.backend
        head = backend.block_number()  # raises while the node is down: no reorg check then
        self._check_reorg()
        applied = 0
        for _ in range(self.max_chunks):
            chunk = next_chunk(self.cursor, head, self.confirmations, self.chunk_blocks)
            if chunk is None:
                break
            a, b = chunk
            end_hash = self._hash(b)
            events = self.market.events(a, b)
            if end_hash is None or self._hash(b) != end_hash:
                break  # the chain moved under us: read again next time
            try:
                self._commit(events, (b, end_hash))
            except Exception:
                self._loaded = False  # memory may be ahead of the index: reload it
                raise
            applied += len(events)
        if self.schedule is None:
            self.schedule = self.market.schedule()
        return applied

    def _commit(self, events: list[Event], block: tuple[int, str]) -> None:
        touched: set[int] = set()
        changed: dict[int, TradeRow] = {}
        rows: dict[tuple[str, int], RowIn] = {}
        for ev in events:
            self._apply(ev, touched, changed)
            e = self.events[0]
            ref = e.block << 20 | e.log_index
            rows["event", ref] = ("event", ref, False, json.dumps(asdict(e)))
        for oid in touched:
            order = self.market.order(oid)
            known = order or self.orders.get(oid)
            if order is None or order.remaining_wh == 0:
                self.orders.pop(oid, None)
            else:
                self.orders[oid] = order
            if known is not None:
                rows["order", oid] = ("order", oid, oid in self.orders, json.dumps(asdict(known)))
        for t in changed.values():
            rows["trade", t.id] = ("trade", t.id, t.status == "open", json.dumps(asdict(t)))
        self.index.index_commit(
            self.index_name,
            block,
            list(rows.values()),
            self.keep_blocks,
            {"event": EXPLORER_EVENTS},
        )
        self.cursor = block[0] + 1
        self._trim()
        if self.schedule is None or any(
            isinstance(e, AdminEvent) and e.name == "ScheduleSet" for e in events
        ):
            self.schedule = self.market.schedule()
        if events:
            self.version += 1

    def _trim(self) -> None:
        """Keep only the ``keep_trades`` newest finished trades in memory."""
        finished = [t for t in self.trades.values() if t.status != "open"]
        if len(finished) > self.keep_trades:
            finished.sort(key=lambda t: (t.block, t.id))
            for t in finished[: len(finished) - self.keep_trades]:
                del self.trades[t.id]

    def _row(self, trade_id: int, changed: dict[int, TradeRow]) -> TradeRow | None:
        row = self.trade(trade_id)
        if row is not None:
            self.trades[trade_id] = changed[trade_id] = row
        return row

    def _apply(self, ev: Event, touched: set[int], changed: dict[int, TradeRow]) -> None:
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
            self.trades[t.id] = changed[t.id] = TradeRow(
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
            row = self._row(ev.trade_id, changed)
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
            row = self._row(ev.trade_id, changed)
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
            row = self._row(ev.trade_id, changed)
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
            except OSError as exc:  # the node or the database is away: it will be back
                log.warning("chain poll failed: %s", exc)
            except Exception:
                log.exception("chain poll failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)


def _order(d: dict[str, Any]) -> Order:
    return Order(**d)
