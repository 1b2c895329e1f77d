"""The live coordinator of the centralized and hybrid markets.

* **centralized** – members submit signed orders for a delivery window during its
  bidding window; at gate closure the coordinator clears them with a market mechanism
  (uniform-price double auction by default, any of :mod:`gridpeer.market.mechanisms`)
  and settles the batch on chain (``settleBatch``).
* **hybrid** – every signed order is matched on arrival against the window's continuous
  book (price-time priority, at the resting order's price); the matches are settled on
  chain as one batch at gate closure.

Each order is verified on arrival (EIP-712 signature of its maker, membership, window,
expiry, unused nonce). The coordinator can only choose signed orders and matches; the
contract checks the signatures and limits again, so it cannot forge or alter an order.
Units: energy Wh, prices wei per kWh, times UTC unix seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from gridpeer.chain.client import MarketClient
from gridpeer.chain.types import SignedOrder, batch_trade_id
from gridpeer.coordinator.batch import build_batch, order_id, signer_of, to_market_order
from gridpeer.market.clearing import GridPrices, Mechanism
from gridpeer.market.continuous import ContinuousBook
from gridpeer.market.mechanisms import clear_orders, get_mechanism
from gridpeer.market.orders import Order
from gridpeer.market.trades import Match

log = logging.getLogger(__name__)

Mode = Literal["centralized", "hybrid"]
Window = tuple[int, int]


class OrderRejected(ValueError):
    """A submitted order was refused; the message says why."""


@dataclass
class _Slot:
    window: Window
    signed: dict[str, SignedOrder] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    book: ContinuousBook | None = None


@dataclass(frozen=True)
class BatchResult:
    """A settled batch: id, the trade ids created, the matches settled and left out."""

    batch_id: int
    trade_ids: list[int]
    matches: list[Match]
    dropped: list[Match]


class Coordinator:
    """Collects, clears and settles signed orders.

    Args:
        market: the chain client.
        key: the coordinator role's key.
        houses: house id per member address.
        mode: ``centralized`` or ``hybrid``.
        mechanism: clearing mechanism (centralized), a name or an instance.
        grid: grid tariffs the community mechanisms need, wei/kWh.
        gate_s: gate closure, seconds before the window start.
        now: chain time, UTC unix s (default: the later of the latest block's timestamp
            and the wall clock, as a node stamps its next block).
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
    ) -> None:
        if mode not in ("centralized", "hybrid"):
            raise ValueError(f"mode must be 'centralized' or 'hybrid', got {mode!r}")
        self.market, self.key, self.mode = market, key, mode
        self.houses = {to_checksum_address(a): h for a, h in houses.items()}
        self.mechanism = get_mechanism(mechanism) if isinstance(mechanism, str) else mechanism
        self.grid = grid or GridPrices(0, 0)
        self.gate_s = gate_s
        self.now = now or (lambda: max(market.now(), int(time.time())))
        self.batches: list[BatchResult] = []
        self._slots: dict[Window, _Slot] = {}
        self._seq = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- orders ---------------------------------------------------------------------------
    def _check(self, signed: SignedOrder, now: int) -> str:
        t = signed.terms
        maker = to_checksum_address(t.maker)
        if signer_of(signed, self.market.typed_order(t)) != maker:
            raise OrderRejected(f"order {order_id(signed)}: signature is not the maker's")
        if maker not in self.houses:
            raise OrderRejected(f"order {order_id(signed)}: {maker} is not a community house")
        _idx, active, last_nonce = self.market.member(maker)
        if not active:
            raise OrderRejected(f"order {order_id(signed)}: {maker} is not an active member")
        if t.nonce <= last_nonce:
            raise OrderRejected(f"order {order_id(signed)}: nonce {t.nonce} already consumed")
        if t.wh <= 0 or t.price <= 0 or t.start >= t.end:
            raise OrderRejected(f"order {order_id(signed)}: zero amount or empty window")
        if now >= t.start - self.gate_s:
            raise OrderRejected(f"order {order_id(signed)}: gate closed for window {t.start}")
        if t.expiry <= now:
            raise OrderRejected(f"order {order_id(signed)}: expired at {t.expiry}")
        return self.houses[maker]

    def submit(self, signed: SignedOrder) -> list[Match]:
        """Accept a signed order; in hybrid mode returns the matches it made at once.

        Raises:
            OrderRejected: bad signature, not a member, used nonce, gate closed, expired,
                or the same order twice.
        """
        now = self.now()
        house = self._check(signed, now)
        key: Window = (signed.terms.start, signed.terms.end)
        with self._lock:
            slot = self._slots.setdefault(key, _Slot(key))
            oid = order_id(signed)
            if oid in slot.signed:
                raise OrderRejected(f"order {oid} was already submitted")
            self._seq += 1
            order = to_market_order(signed, house, self._seq)
            slot.signed[oid] = signed
            slot.orders.append(order)
            if self.mode == "centralized":
                return []
            if slot.book is None:
                start = datetime.fromtimestamp(key[0], UTC)
                gate = datetime.fromtimestamp(key[0] - self.gate_s, UTC)
                slot.book = ContinuousBook(slot=start, gate_closure=gate)
            made = slot.book.submit(order, datetime.fromtimestamp(now, UTC))
            slot.matches.extend(made)
            return made

    # -- gate closure ---------------------------------------------------------------------
    def close(self, window: Window) -> BatchResult | None:
        """Clear (centralized) and settle the window's batch on chain; None if no trade."""
        with self._lock:
            slot = self._slots.pop(window, None)
        if slot is None:
            return None
        if self.mode == "centralized":
            matches = clear_orders(self.mechanism, slot.orders, self.grid)[1] if slot.orders else []
        else:
            matches = slot.matches
        orders, chain_matches, dropped = build_batch(list(slot.signed.values()), matches)
        if not chain_matches:
            return None
        batch = self.market.settle_batch(self.key, orders, chain_matches)
        kept = [m for m in matches if m not in dropped]
        result = BatchResult(
            batch, [batch_trade_id(batch, i) for i in range(len(chain_matches))], kept, dropped
        )
        self.batches.append(result)
        log.info("window %s: batch %s with %s trades", window, batch, len(chain_matches))
        return result

    def due(self, now: int) -> list[Window]:
        """Windows whose gate has closed at ``now``."""
        with self._lock:
            return sorted(w for w in self._slots if now >= w[0] - self.gate_s)

    def tick(self) -> list[BatchResult]:
        """Close every window whose gate has closed."""
        out = []
        for w in self.due(self.now()):
            try:
                r = self.close(w)
            except Exception:
                log.exception("settling window %s failed", w)
                continue
            if r is not None:
                out.append(r)
        return out

    def start(self, poll_s: float = 0.1) -> None:
        """Close windows at their gate in a background thread."""

        def run() -> None:
            while not self._stop.wait(poll_s):
                self.tick()

        self._thread = threading.Thread(target=run, name="coordinator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
