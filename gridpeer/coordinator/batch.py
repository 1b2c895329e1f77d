"""Signed orders ↔ market orders ↔ an on-chain batch (pure).

The coordinator never changes an order: it only chooses which signed orders to include
and the matches between them. Every match is checked here exactly as the contract will
check it (sides, remaining Wh, price between the sell limit and the buy limit, no
self-trade), so a batch that passes here is not refused for those reasons on chain.
Units: energy Wh, prices wei per kWh, times UTC unix seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address

from gridpeer.chain.types import Match as ChainMatch
from gridpeer.chain.types import SignedOrder
from gridpeer.market.orders import Order, Side
from gridpeer.market.trades import Match


def order_id(signed: SignedOrder) -> str:
    """The market order id of a signed order: ``<maker>:<nonce>``."""
    return f"{to_checksum_address(signed.terms.maker)}:{signed.terms.nonce}"


def signer_of(signed: SignedOrder, typed_data: dict[str, object]) -> str:
    """Address that signed ``typed_data`` (the EIP-712 ``Order`` of ``signed.terms``)."""
    msg = encode_typed_data(full_message=typed_data)
    vrs = (signed.v, int.from_bytes(signed.r, "big"), int.from_bytes(signed.s, "big"))
    return to_checksum_address(Account.recover_message(msg, vrs=vrs))


def to_market_order(signed: SignedOrder, house: str, priority: int) -> Order:
    """A market :class:`Order` with the signed terms (sell → ask, buy → bid)."""
    t = signed.terms
    return Order(
        id=order_id(signed),
        house=house,
        side=Side.ASK if t.sell else Side.BID,
        energy_wh=t.wh,
        price_wei_per_kwh=t.price,
        slot=datetime.fromtimestamp(t.start, UTC),
        priority=priority,
        expires_at=datetime.fromtimestamp(t.expiry, UTC),
    )


def build_batch(
    orders: Sequence[SignedOrder], matches: Sequence[Match]
) -> tuple[list[SignedOrder], list[ChainMatch], list[Match]]:
    """The orders and chain matches of a batch, and the matches left out.

    Only orders that take part in a kept match are included (an included order is
    consumed on chain). Matches are left out when they would be refused on chain:
    a house trading with itself, a price outside the two limits, or more Wh than an
    order has left.

    Raises:
        ValueError: a match names an unknown order.
    """
    by_id = {order_id(o): o for o in orders}
    left = {k: o.terms.wh for k, o in by_id.items()}
    kept: list[tuple[str, str, int, int]] = []
    dropped: list[Match] = []
    for m in matches:
        if m.sell_order not in by_id or m.buy_order not in by_id:
            raise ValueError(f"match {m} names an order that was not submitted")
        s, b = by_id[m.sell_order].terms, by_id[m.buy_order].terms
        if (
            not s.sell
            or b.sell
            or to_checksum_address(s.maker) == to_checksum_address(b.maker)
            or not s.price <= m.price_wei_per_kwh <= b.price
            or m.energy_wh > min(left[m.sell_order], left[m.buy_order])
            or m.energy_wh <= 0
        ):
            dropped.append(m)
            continue
        left[m.sell_order] -= m.energy_wh
        left[m.buy_order] -= m.energy_wh
        kept.append((m.sell_order, m.buy_order, m.energy_wh, m.price_wei_per_kwh))
    used: list[str] = []
    for s_id, b_id, _, _ in kept:
        for k in (s_id, b_id):
            if k not in used:
                used.append(k)
    index = {k: i for i, k in enumerate(used)}
    chain_matches = [ChainMatch(index[s], index[b], wh, p) for s, b, wh, p in kept]
    return [by_id[k] for k in used], chain_matches, dropped


def buyer_debits(orders: Sequence[SignedOrder], matches: Sequence[ChainMatch]) -> dict[str, int]:
    """Escrow each buyer's credit must cover, wei (``wh * price // 1000`` per match)."""
    out: dict[str, int] = {}
    for m in matches:
        maker = to_checksum_address(orders[m.buy_index].terms.maker)
        out[maker] = out.get(maker, 0) + m.wh * m.price // 1000
    return out
