"""The live coordinator of the centralized and hybrid markets.

* **centralized** – members submit signed orders for a delivery window during its
  bidding window; at gate closure the coordinator clears them with a market mechanism
  (uniform-price double auction by default, any of :mod:`gridpeer.market.mechanisms`)
  and settles the matches on chain (``settleBatch``).
* **hybrid** – every signed order is matched on arrival against the window's continuous
  book (price-time priority, at the resting order's price); the matches are settled on
  chain at gate closure.

Orders come in through :class:`~gridpeer.coordinator.intake.Intake` (checked, then
stored: state ``accepted``) from HTTP, MQTT or :meth:`Coordinator.submit`; everything
the coordinator knows is in the store, so several processes may take orders and a
restart loses nothing. At gate closure a window is settled in rounds until no order of
it is open:

1. orders the chain would refuse are dropped with the reason (nonce used or revoked with
   ``invalidateNonce``, maker no longer a member, expired);
2. the rest are matched (centralized: the mechanism; hybrid: the book replayed in arrival
   order) and a batch built that cannot revert for a known reason (see
   :mod:`gridpeer.coordinator.batch`: nonces rising per maker, gas within the block);
3. buyers whose credit does not cover their escrow lose their buy orders (dropped with
   the amounts) and the window is matched again;
4. the batch plan is stored (state ``sending``), then sent. Mined: its orders become
   ``settled`` with their trade ids, in one transaction with the batch. Reverted: the
   offending order is dropped with the contract's reason and the round repeats.

Orders left without a match are dropped ("no matching order"); the matched orders of a
window whose delivery starts before its batch is mined are dropped too, saying so (the
contract takes batches only before the window). After a crash,
:meth:`Coordinator.reconcile` looks for each ``sending`` plan among the chain's
``BatchSettled`` events: found, its orders are settled; not found, they are open again.
The contract's per-maker nonces make settling an order twice impossible; the
reconciliation makes the store agree with the chain.

Units: energy Wh, prices wei per kWh, money wei, times UTC unix seconds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from gridpeer.chain import errors
from gridpeer.chain.client import MarketClient
from gridpeer.chain.events import AdminEvent, TradeCreated
from gridpeer.chain.types import HONOURED, SignedOrder, batch_trade_id
from gridpeer.coordinator.batch import (
    Batch,
    build_batch,
    buyer_debits,
    to_market_order,
    unfunded,
)
from gridpeer.coordinator.intake import Intake, OrderRejected, utc_text, wei_text
from gridpeer.coordinator.preferences import Community, Honoured, clear_preferring
from gridpeer.coordinator.wire import parse_body
from gridpeer.market.clearing import GridPrices, Mechanism
from gridpeer.market.continuous import ContinuousBook
from gridpeer.market.mechanisms import clear_orders, get_mechanism
from gridpeer.market.trades import Match
from gridpeer.store.base import BatchRecord, OrderRecord, OrderUpdate, Store

__all__ = ["BatchResult", "Coordinator", "Mode", "OrderRejected"]

log = logging.getLogger(__name__)
NO_MATCH = "no matching order at gate closure"
"""Reason of an order dropped because no order matched it."""
LATE = "the delivery window started before its batch was mined"
"""Reason of a matched order dropped because its window started before settlement."""

Mode = Literal["centralized", "hybrid"]
Window = tuple[int, int]
OPEN = ("accepted", "matched")
BLOCK_GAS = 30_000_000
"""Default block gas limit (anvil's, Hardhat's, mainnet's): a batch's gas limit stays
below it."""


@dataclass(frozen=True)
class BatchResult:
    """A mined batch: id, the trade ids created, the matches settled and left out."""

    batch_id: int
    trade_ids: list[int]
    matches: list[Match]
    dropped: list[Match]


@dataclass
class _Book:
    """A hybrid window's continuous book and the order ids fed to it, in order."""

    book: ContinuousBook
    fed: list[str]
    matches: list[Match]


class Coordinator:
    """Collects, clears and settles signed orders (see the module doc).

    Args:
        market: the chain client.
        key: the coordinator role's key.
        houses: house id per member address (others are named by address).
        mode: ``centralized`` or ``hybrid``.
        mechanism: clearing mechanism (centralized), a name or an instance.
        grid: grid tariffs the community mechanisms need, wei/kWh.
        gate_s: gate closure, seconds before the window start.
        now: model time, UTC unix s (default: the later of the latest block's timestamp
            and the wall clock, as a node stamps its next block).
        store: where orders and batches are kept (default: an in-memory SQLite).
        block_gas: the chain's block gas limit; a batch's gas limit stays below it.
        chain_lock: held around chain calls when the backend is shared with other threads.
        money: formats wei in the community's currency (for reasons).
        community: zones and green houses for buyers' local and green preferences
            (centralized mode; see :mod:`gridpeer.coordinator.preferences`).
    """

    def __init__(
        self,
        market: MarketClient,
        key: LocalAccount,
        houses: Mapping[str, str],
        mode: Mode = "centralized",
        mechanism: str | Mechanism = "uniform",
        grid: GridPrices | None = None,
        gate_s: int = 2,
        now: Callable[[], int] | None = None,
        store: Store | None = None,
        block_gas: int = BLOCK_GAS,
        chain_lock: Any = None,
        money: Callable[[int], str] = wei_text,
        community: Community | None = None,
    ) -> None:
        if mode not in ("centralized", "hybrid"):
            raise ValueError(f"mode must be 'centralized' or 'hybrid', got {mode!r}")
        if store is None:
            from gridpeer.store.factory import open_store

            store = open_store("sqlite:///:memory:")
        self.market, self.key, self.mode, self.store = market, key, mode, store
        self.houses: dict[str, str] = {str(to_checksum_address(a)): h for a, h in houses.items()}
        self.mechanism = get_mechanism(mechanism) if isinstance(mechanism, str) else mechanism
        self.grid = grid or GridPrices(0, 0)
        self.gate_s = gate_s
        self.now = now or (lambda: max(market.now(), int(time.time())))
        self.block_gas = block_gas
        self.chain_lock = chain_lock
        self.money = money
        self.community = community or Community()
        self._honoured: dict[Window, Honoured] = {}
        """Preferences the last centralized clearing of each window honoured."""
        self.intake = Intake(market, store, gate_s, self.houses, self._now, money, chain_lock)
        self.batches: list[BatchResult] = []
        self.hooks: dict[str, Callable[[BatchRecord], None]] = {}
        """Test points ``before`` (plan stored, not sent), ``during`` (mined, not yet
        recorded) and ``after`` (recorded) of each batch."""
        self._books: dict[Window, _Book] = {}
        self._members: dict[str, tuple[int, bool, int]] = {}
        self._credit: dict[str, int] = {}
        """Chain reads cached while a window is closed (cleared at each close and after a
        refusal; updated with what our own mined batches changed)."""
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _now(self) -> int:
        return self.now()

    @contextlib.contextmanager
    def _chain(self) -> Iterator[None]:
        if self.chain_lock is None:
            yield
        else:
            with self.chain_lock:
                yield

    # -- orders ---------------------------------------------------------------------------
    def accept(self, signed: SignedOrder) -> OrderRecord:
        """Check and store a signed order; in hybrid mode match it at once.

        Raises:
            OrderRejected: with an HTTP-like status and the reason.
        """
        rec = self.intake.accept(signed)
        if self.mode == "hybrid":
            with self._lock:
                self._rematch((rec.start, rec.end))
        return rec

    def accept_json(self, body: Any) -> OrderRecord:
        """:meth:`accept` for a parsed JSON body ``{"order": …, "signature": "0x…"}``."""
        rec = self.intake.accept_json(body)
        if self.mode == "hybrid":
            with self._lock:
                self._rematch((rec.start, rec.end))
        return rec

    def submit(self, signed: SignedOrder) -> list[Match]:
        """Accept a signed order; returns the matches it made at once (hybrid).

        Raises:
            OrderRejected: bad signature, not a member, used nonce, gate closed, expired,
                not enough credit, or the same order twice.
        """
        rec = self.accept(signed)
        book = self._books.get((rec.start, rec.end))
        if book is None:
            return []
        return [m for m in book.matches if rec.id in (m.buy_order, m.sell_order)]

    def orders(self, window: Window, states: Sequence[str] = OPEN) -> list[OrderRecord]:
        """The window's orders in ``states``, by arrival."""
        return [r for r in self.store.orders(states=states, start=window[0]) if r.end == window[1]]

    @staticmethod
    def signed(rec: OrderRecord) -> SignedOrder:
        """The signed order of a stored record."""
        return parse_body(json.loads(rec.body))

    # -- matching -------------------------------------------------------------------------
    def _match(self, window: Window, recs: Sequence[OrderRecord]) -> list[Match]:
        """Matches among ``recs`` (centralized: the mechanism; hybrid: the book)."""
        if not recs:
            return []
        if self.mode == "hybrid":
            return self._book(window, recs).matches
        signed = {r.id: self.signed(r) for r in recs}
        orders = [to_market_order(signed[r.id], r.house, r.seq, r.id) for r in recs]
        terms = {k: o.terms for k, o in signed.items()}
        partners = {t.partner for t in terms.values() if t.partner}
        if not partners and not any(t.prefs for t in terms.values()):
            self._honoured[window] = {}
            return clear_orders(self.mechanism, orders, self.grid)[1]
        houses = {}
        for idx in partners:
            addr = str(to_checksum_address(self.market.member_address(idx)))
            houses[idx] = self.houses.get(addr, addr)
        matches, honoured = clear_preferring(
            self.mechanism, orders, terms, houses, self.community, self.grid
        )
        self._honoured[window] = honoured
        return matches

    def _book(self, window: Window, recs: Sequence[OrderRecord]) -> _Book:
        """The hybrid book of ``window`` fed with ``recs`` in arrival order; rebuilt from
        scratch when an order it holds is no longer among them (dropped, restart)."""
        ids = {r.id for r in recs}
        b = self._books.get(window)
        if b is None or not set(b.fed) <= ids:
            start = datetime.fromtimestamp(window[0], UTC)
            b = _Book(ContinuousBook(start, start), [], [])
            self._books[window] = b
        fed = set(b.fed)
        # replayed at one instant before the window (orders were accepted before its gate)
        at = datetime.fromtimestamp(window[0] - 1, UTC)
        b.book.gate_closure = datetime.fromtimestamp(window[0], UTC)
        for r in recs:
            if r.id not in fed:
                order = to_market_order(self.signed(r), r.house, r.seq, r.id)
                b.matches.extend(b.book.submit(order, at))
                b.fed.append(r.id)
        return b

    def _rematch(self, window: Window) -> None:
        """Hybrid: match the window's new orders; store which are matched (and how much)."""
        recs = self.orders(window)
        matches = self._match(window, recs)
        wh: dict[str, int] = {}
        for m in matches:
            for k in (m.buy_order, m.sell_order):
                wh[k] = wh.get(k, 0) + m.energy_wh
        changed = [
            OrderUpdate(r.id, "matched" if wh.get(r.id) else "accepted", "", (), wh.get(r.id, 0))
            for r in recs
            if (r.matched_wh, r.state)
            != (wh.get(r.id, 0), "matched" if wh.get(r.id) else "accepted")
        ]
        if changed:
            self.store.update_orders(changed)

    # -- gate closure ---------------------------------------------------------------------
    def due(self, now: int) -> list[Window]:
        """Windows with open orders whose gate has closed at ``now``."""
        ws = {(r.start, r.end) for r in self.store.orders(states=OPEN)}
        return sorted(w for w in ws if now >= w[0] - self.gate_s)

    def tick(self) -> list[BatchResult]:
        """Settle every window whose gate has closed; returns the batches mined."""
        with self._lock:
            now = self._now()
            out: list[BatchResult] = []
            for w in self.due(now):
                try:
                    out.extend(self.close(w))
                except errors.ContractRevert:
                    log.exception("window %s: unexpected refusal", w)
                except Exception:  # the node or the store is down: next tick retries
                    log.exception("settling window %s failed; retrying", w)
            return out

    def close(self, window: Window) -> list[BatchResult]:
        """Settle ``window`` in rounds until none of its orders is open (module doc)."""
        with self._lock, self._chain():
            self._reconcile_window(window)
            self._members.clear()
            self._credit.clear()
            mined: list[BatchResult] = []
            for _round in range(len(self.orders(window)) * 2 + 2):
                recs = self.orders(window)
                if not recs:
                    break
                if self._now() >= window[0]:
                    self._drop_late(window, recs)
                    break
                live = self._precheck(recs)
                if not live:
                    continue
                batch = self._fundable_batch(window, live)
                if batch is None:
                    continue
                if not batch.matches:
                    why = NO_MATCH
                    if batch.refused:
                        why += (
                            f" (the {self.mode} clearing's matches broke the signed limits: "
                            "price outside a limit, or a house trading with itself)"
                        )
                    self._drop(live, why)
                    break
                result = self._send(window, batch, {r.id: r for r in live})
                if result is not None:
                    mined.append(result)
            self._books.pop(window, None)
            self._honoured.pop(window, None)
            return mined

    def _drop_late(self, window: Window, recs: Sequence[OrderRecord]) -> None:
        """The window started with ``recs`` open: none can be settled any more. Orders in
        a match were too late for a batch; the others had nothing to match."""
        matched = {k for m in self._match(window, recs) for k in (m.sell_order, m.buy_order)}
        self._drop([r for r in recs if r.id in matched], LATE)
        self._drop([r for r in recs if r.id not in matched], NO_MATCH)

    def _drop(self, recs: Sequence[OrderRecord], reason: str) -> None:
        if recs:
            self.store.update_orders([OrderUpdate(r.id, "dropped", reason) for r in recs])
            log.info("dropped %d order(s): %s", len(recs), reason)

    def _precheck(self, recs: Sequence[OrderRecord]) -> list[OrderRecord]:
        """Drop the orders the chain would refuse now; return the rest."""
        now = self._now()
        for m in {r.maker for r in recs} - set(self._members):
            self._members[m] = self.market.member(m)
        members = self._members
        live: list[OrderRecord] = []
        for r in recs:
            _idx, active, last = members[r.maker]
            if not active:
                self._drop([r], f"{r.maker} is no longer a member of the community")
            elif r.nonce <= last:
                self._drop(
                    [r],
                    f"nonce {r.nonce} was used or revoked before settlement (the maker's last "
                    f"used nonce is {last})",
                )
            elif r.expiry < now + 1:
                self._drop([r], f"the order expired at {utc_text(r.expiry)}")
            else:
                live.append(r)
        return live

    def _fundable_batch(self, window: Window, live: Sequence[OrderRecord]) -> Batch | None:
        """The batch of ``live``; None after dropping the buy orders of buyers whose
        credit does not cover it (the caller matches again)."""
        signed = {r.id: self.signed(r) for r in live}
        rank = {m: self._members[m][0] for m in {r.maker for r in live}}
        matches = self._match(window, live)
        honoured = self._honoured.get(window, {})
        batch = build_batch(signed, matches, self.block_gas, rank, honoured)
        if not batch.matches:
            return batch
        buyers = {str(to_checksum_address(o.terms.maker)) for o in batch.orders if not o.terms.sell}
        for a in buyers - set(self._credit):
            self._credit[a] = self.market.credit_of_index(self._members[a][0])
        credit = self._credit
        short = unfunded(batch.orders, batch.matches, credit)
        if not short:
            return batch
        for maker, (have, need) in short.items():
            self._drop(
                [r for r in live if r.maker == maker and not r.sell],
                f"not enough credit at gate closure: the matched orders needed "
                f"{self.money(need)} escrow, the credit was {self.money(have)}",
            )
        return None

    # -- sending and recording ------------------------------------------------------------
    def _send(
        self, window: Window, batch: Batch, recs: Mapping[str, OrderRecord]
    ) -> BatchResult | None:
        """Store the plan, send it, record the result. None if the chain refused it
        (the offending order is dropped)."""
        plan = _plan(batch)
        volume = sum(m.wh for m in batch.matches)
        price = sum(m.wh * m.price for m in batch.matches) // max(1, volume)
        rec = self.store.add_batch(
            BatchRecord(
                seq=0,
                start=window[0],
                end=window[1],
                state="sending",
                plan=json.dumps(plan),
                from_block=self.market.backend.block_number(),
                price=price,
                volume_wh=volume,
                trades=len(batch.matches),
                created_at=self._now(),
            )
        )
        self.store.update_orders(
            [
                OrderUpdate(k, "matched", "", (), wh)
                for k, wh in _order_wh(batch.ids, plan["matches"]).items()
            ]
        )
        self._hook("before", rec)
        try:
            batch_id = self.market.settle_batch(self.key, batch.orders, batch.matches)
        except errors.ContractRevert as exc:
            self._members.clear()
            self._credit.clear()
            self._refused(window, batch, rec, recs, exc)
            return None
        self._after_mined(batch)
        receipt = self.market.last_receipt
        tx = "0x" + receipt.tx_hash.hex() if receipt is not None else ""
        self._hook("during", rec)
        mined = replace(rec, state="mined", batch_id=batch_id, tx=tx, mined_at=self._now())
        self._record_mined(mined, plan)
        self._hook("after", mined)
        result = BatchResult(
            batch_id,
            [batch_trade_id(batch_id, j) for j in range(len(batch.matches))],
            batch.kept,
            batch.refused,
        )
        self.batches.append(result)
        log.info(
            "window %s: batch %s mined, %d trades, %d Wh", window, batch_id, len(batch.kept), volume
        )
        return result

    def _after_mined(self, batch: Batch) -> None:
        """Update the cached nonces and credits with what the mined ``batch`` changed."""
        for o in batch.orders:
            m = str(to_checksum_address(o.terms.maker))
            if m in self._members:
                idx, active, last = self._members[m]
                self._members[m] = (idx, active, max(last, o.terms.nonce))
        for m, d in buyer_debits(batch.orders, batch.matches).items():
            if m in self._credit:
                self._credit[m] -= d

    def _hook(self, point: str, rec: BatchRecord) -> None:
        fn = self.hooks.get(point)
        if fn is not None:
            fn(rec)

    def _record_mined(self, mined: BatchRecord, plan: Mapping[str, Any]) -> None:
        """Settle the plan's orders (trade ids, Wh) and mark the batch mined, atomically."""
        assert mined.batch_id is not None
        ids: list[str] = plan["orders"]
        trades: dict[str, list[int]] = {k: [] for k in ids}
        wh = _order_wh(ids, plan["matches"])
        for j, (s, b, _wh, _p) in enumerate(plan["matches"]):
            tid = batch_trade_id(mined.batch_id, j)
            trades[ids[s]].append(tid)
            trades[ids[b]].append(tid)
        why = _honoured_notes(ids, plan)
        updates = [OrderUpdate(k, "settled", why.get(k, ""), tuple(trades[k]), wh[k]) for k in ids]
        self.store.update_orders(updates, mined)

    def _refused(
        self,
        window: Window,
        batch: Batch,
        rec: BatchRecord,
        recs: Mapping[str, OrderRecord],
        exc: errors.ContractRevert,
    ) -> None:
        """Record a reverted batch and drop what made it revert."""
        log.warning("window %s: batch refused on chain: %s", window, exc)
        back = [OrderUpdate(k, "accepted") for k in batch.ids]
        self.store.update_orders(back, replace(rec, state="reverted", reason=str(exc)))
        reason = f"refused on chain: {exc}"
        i = exc.args_.get("orderIndex")
        j = exc.args_.get("matchIndex")
        if isinstance(exc, errors.NonceUsed):
            # perhaps an earlier plan of ours was mined after all (crash, lost answer)
            self._reconcile_window(window, states=("lost", "reverted"))
        if isinstance(i, int) and i < len(batch.ids):
            still = self.store.orders(ids=[batch.ids[i]], states=OPEN)
            self._drop(still, reason)
        elif isinstance(j, int) and j < len(batch.kept):
            self._drop(self.store.orders(ids=[batch.kept[j].buy_order], states=OPEN), reason)
        elif isinstance(exc, errors.InsufficientCredit):
            pass  # a buyer withdrew in between: the next round's credit check drops it
        else:  # the window itself is refused (started, not a delivery window, …)
            self._drop(self.orders(window), reason)

    # -- recovery -------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Match every plan left ``sending`` (a crash) against the chain's events."""
        with self._lock, self._chain():
            for b in self.store.batches(states=["sending"]):
                self._reconcile_batch(b)

    def _reconcile_window(self, window: Window, states: Sequence[str] = ("sending",)) -> None:
        for b in self.store.batches(states=list(states)):
            if (b.start, b.end) == window:
                self._reconcile_batch(b)

    def _reconcile_batch(self, b: BatchRecord) -> None:
        plan = json.loads(b.plan)
        found = self._find_on_chain(b, plan)
        if found is not None:
            batch_id, tx = found
            log.warning("batch plan %d was mined as batch %d: recording it", b.seq, batch_id)
            self._record_mined(
                replace(b, state="mined", batch_id=batch_id, tx=tx, mined_at=self._now()), plan
            )
        elif b.state == "sending":
            log.warning("batch plan %d was never mined: its orders are open again", b.seq)
            back = [
                OrderUpdate(r.id, "accepted")
                for r in self.store.orders(ids=plan["orders"], states=["matched"])
            ]
            self.store.update_orders(back, replace(b, state="lost", reason="never mined"))

    def _find_on_chain(self, b: BatchRecord, plan: Mapping[str, Any]) -> tuple[int, str] | None:
        """(batch id, tx) of the ``BatchSettled`` after ``b.from_block`` whose trades are
        exactly the plan's, or None."""
        want = [tuple(t) for t in plan["trades"]]
        got: dict[bytes, tuple[int, list[tuple[str, str, int, int]]]] = {}
        for ev in self.market.events(b.from_block + 1):
            if isinstance(ev, AdminEvent) and ev.name == "BatchSettled":
                got[ev.meta.tx_hash] = (int(ev.fields["batchId"]), [])
            elif isinstance(ev, TradeCreated) and ev.order_id == 0 and ev.meta.tx_hash in got:
                t = ev.trade
                if (t.start, t.end) == (b.start, b.end):
                    got[ev.meta.tx_hash][1].append(
                        (to_checksum_address(t.seller), to_checksum_address(t.buyer), t.wh, t.price)
                    )
        for tx, (batch_id, trades) in got.items():
            if trades == want:
                return batch_id, "0x" + tx.hex()
        return None

    # -- background thread ----------------------------------------------------------------
    def start(self, poll_s: float = 0.1) -> None:
        """Reconcile, then settle windows at their gate in a background thread (hybrid:
        also match new orders from other intakes, e.g. the web process)."""
        self.reconcile()

        def run() -> None:
            while not self._stop.wait(poll_s):
                try:
                    if self.mode == "hybrid":
                        self.refresh()
                    self.tick()
                except Exception:
                    log.exception("coordinator tick failed")

        self._stop.clear()
        self._thread = threading.Thread(target=run, name="coordinator", daemon=True)
        self._thread.start()

    def refresh(self) -> None:
        """Hybrid: match orders stored by other processes in windows not yet due."""
        with self._lock:
            now = self._now()
            ws = {(r.start, r.end) for r in self.store.orders(states=["accepted"])}
            for w in sorted(ws):
                if now < w[0] - self.gate_s:
                    self._rematch(w)

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _plan(batch: Batch) -> dict[str, Any]:
    """What a restart needs to recognise the batch: order ids, matches, trades."""
    makers = [to_checksum_address(o.terms.maker) for o in batch.orders]
    return {
        "orders": batch.ids,
        "matches": [[m.sell_index, m.buy_index, m.wh, m.price] for m in batch.matches],
        "honoured": [m.honoured for m in batch.matches],
        "trades": [
            [makers[m.sell_index], makers[m.buy_index], m.wh, m.price] for m in batch.matches
        ],
    }


def _order_wh(ids: Sequence[str], matches: Sequence[Sequence[int]]) -> dict[str, int]:
    """Wh each order trades in a plan's matches."""
    wh = {k: 0 for k in ids}
    for s, b, w, _p in matches:
        wh[ids[s]] += w
        wh[ids[b]] += w
    return wh


def _honoured_notes(ids: Sequence[str], plan: Mapping[str, Any]) -> dict[str, str]:
    """A settled buy order's note on the preferences its trades honoured, by order id,
    e.g. ``"preference honoured: partner (200 of 300 Wh)"``."""
    codes: list[int] = plan.get("honoured") or []
    got: dict[str, dict[str, int]] = {}
    total: dict[str, int] = {}
    for (_s, b, w, _p), code in zip(plan["matches"], codes, strict=False):
        total[ids[b]] = total.get(ids[b], 0) + w
        if code:
            kinds = got.setdefault(ids[b], {})
            kinds[HONOURED[code]] = kinds.get(HONOURED[code], 0) + w
    return {
        k: "preference honoured: "
        + ", ".join(f"{name} ({w} of {total[k]} Wh)" for name, w in kinds.items())
        for k, kinds in got.items()
    }
