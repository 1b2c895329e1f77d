"""Accepting a signed order: checked like the contract will check it, then stored.

An order is stored (state ``accepted``) only after every check the coordinator can make
in advance: the maker's EIP-712 signature, active membership, a delivery window of the
schedule still open for bids (before gate closure), an expiry after gate closure, a nonce
above the maker's last used one and not taken by another stored order, and (buy orders)
credit on the contract covering the order's worst-case cost on top of the maker's other
open buy orders. It is acknowledged only once stored, so an accepted order survives any
crash. Refusals carry an HTTP-like status (400 refused, 409 conflict, 422 invalid) and a
reason in the member's units. Submitting an already stored order again is not a
conflict: the answer is the stored record (idempotent retries).
Units: energy Wh, prices wei/kWh, money wei, times UTC unix seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils.address import to_checksum_address

from gridpeer.chain.client import MarketClient
from gridpeer.chain.order_wire import WireError, check_preferences
from gridpeer.chain.types import Schedule, SignedOrder, cost_wei
from gridpeer.coordinator.batch import signer_of
from gridpeer.coordinator.wire import BadOrder, body_json, order_digest, parse_body
from gridpeer.market.calendar import refusal
from gridpeer.store.base import OrderRecord, Store

OPEN_STATES = ("accepted", "matched")
SCHEDULE_TTL_S = 5.0
MAX_NONCE = (1 << 31) - 1


class OrderRejected(ValueError):
    """A submitted order was refused: ``status`` (400, 409, 422) and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def wei_text(wei: int) -> str:
    """Default money formatting: ``"1,500 wei"``."""
    return f"{wei:,} wei"


def utc_text(ts: int) -> str:
    """``ts`` (UTC unix s) as ``2026-06-01 12:30:00 UTC``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Intake:
    """Checks and stores signed orders for the coordinator.

    Args:
        market: the chain client (membership, nonces, credit, schedule, EIP-712 domain).
        store: where accepted orders are kept.
        gate_s: gate closure, seconds before a delivery window starts.
        houses: member address → house id (addresses not listed are named by address).
        now: model time, UTC unix s.
        money: formats wei in the community's currency (for reasons).
        chain_lock: held around chain reads (a backend shared with other threads).
    """

    market: MarketClient
    store: Store
    gate_s: int
    houses: Mapping[str, str]
    now: Callable[[], int]
    money: Callable[[int], str] = wei_text
    chain_lock: Any = None

    def __post_init__(self) -> None:
        self.houses = {to_checksum_address(a): h for a, h in self.houses.items()}
        self._schedule: tuple[float, Schedule] | None = None

    def schedule(self) -> Schedule:
        """The chain's trading schedule, read at most every :data:`SCHEDULE_TTL_S` s (a
        change in between is caught on chain at settlement and reported per order)."""
        if self._schedule is None or time.monotonic() - self._schedule[0] > SCHEDULE_TTL_S:
            self._schedule = (time.monotonic(), self.market.schedule())
        return self._schedule[1]

    def accept_json(self, body: Any) -> OrderRecord:
        """Parse a JSON body (``{"order", "signature"}``) and :meth:`accept` it."""
        try:
            signed = parse_body(body)
        except BadOrder as exc:
            raise OrderRejected(422, str(exc)) from None
        return self.accept(signed)

    def accept(self, signed: SignedOrder) -> OrderRecord:
        """Check ``signed`` and store it; returns the stored record (state ``accepted``).

        Idempotent: the same signed order again (same terms and signature, e.g. a retry
        after a lost acknowledgement) returns the stored record in its current state,
        whatever happened to it since (matched, settled, dropped); only another order with
        the same nonce, or the same terms with another signature, is a conflict (409).

        Raises:
            OrderRejected: with the status and the reason.
        """
        known = self.known(signed)
        if known is not None:
            return known
        if self.chain_lock is None:
            record = self._check(signed)
        else:
            with self.chain_lock:
                record = self._check(signed)
        stored, why = self.store.add_order(record)
        if stored is None:
            known = self.known(signed)  # the same order stored meanwhile by another thread
            if known is not None:
                return known
            raise OrderRejected(409, why)
        return stored

    def known(self, signed: SignedOrder) -> OrderRecord | None:
        """The stored record of exactly this signed order (same id and signature), or None."""
        oid = order_digest(self.market.typed_order(signed.terms))
        found = self.store.orders(ids=[oid])
        if found and found[0].body == body_json(signed):
            return found[0]
        return None

    def _check(self, signed: SignedOrder) -> OrderRecord:
        t = signed.terms
        maker = to_checksum_address(t.maker)
        if t.wh <= 0:
            raise OrderRejected(422, "energy must be at least 1 Wh")
        if t.price <= 0:
            raise OrderRejected(422, "price must be above 0")
        if t.nonce <= 0 or t.nonce > MAX_NONCE:
            raise OrderRejected(422, f"nonce must be between 1 and {MAX_NONCE}")
        typed = self.market.typed_order(t)
        if signer_of(signed, typed) != maker:
            raise OrderRejected(400, f"the signature is not {maker}'s (wrong key or altered terms)")
        idx, active, last_nonce = self.market.member(maker)
        if not active:
            raise OrderRejected(400, f"{maker} is not a member of the community")
        now = self.now()
        gate = t.start - self.gate_s
        why = refusal(
            self.schedule().calendar(),
            datetime.fromtimestamp(now, UTC),
            datetime.fromtimestamp(t.start, UTC),
            datetime.fromtimestamp(t.end, UTC),
        )
        if why is not None:
            raise OrderRejected(400, f"window closed: {why}")
        if now >= gate:
            raise OrderRejected(
                400, f"window closed: bids for this window closed at {utc_text(gate)} (gate)"
            )
        if t.expiry < t.start:
            raise OrderRejected(
                422,
                f"the order expires at {utc_text(t.expiry)}, before its delivery window starts "
                f"({utc_text(t.start)}): sign it with an expiry at or after the start",
            )
        if t.nonce <= last_nonce:
            raise OrderRejected(
                409, f"nonce {t.nonce} is already used (your last used nonce is {last_nonce})"
            )
        try:
            check_preferences(t)
        except WireError as exc:
            raise OrderRejected(422, str(exc)) from exc
        if t.partner and t.partner == idx:
            raise OrderRejected(422, "order.partner is your own member index")
        if not t.sell:  # worst case: every Wh honours a preference, at the limit + premium
            self._check_credit(maker, idx, cost_wei(t.wh, t.price + t.premium))
        return OrderRecord(
            id=order_digest(typed),
            seq=0,
            maker=maker,
            nonce=t.nonce,
            house=self.houses.get(maker, maker.lower()),
            sell=t.sell,
            wh=t.wh,
            price=t.price,
            start=t.start,
            end=t.end,
            expiry=t.expiry,
            body=body_json(signed),
            created_at=int(time.time() * 1000),
        )

    def _check_credit(self, maker: str, idx: int, cost: int) -> None:
        credit = self.market.credit_of_index(idx)
        reserved = sum(
            cost_wei(o.wh, o.price + _premium(o.body))
            for o in self.store.orders(maker=maker, states=OPEN_STATES)
            if not o.sell
        )
        if credit - reserved < cost:
            short = cost - max(0, credit - reserved)
            raise OrderRejected(
                400,
                f"not enough credit: this order may cost up to {self.money(cost)}; your "
                f"credit is {self.money(credit)}, of which {self.money(reserved)} is held "
                f"for your other open buy orders; deposit at least {self.money(short)} more",
            )


def _premium(body: str) -> int:
    """The premium (wei/kWh, 0 if none) of a stored order's wire body."""
    premium = json.loads(body)["order"].get("premium", 0)
    return int(premium)
