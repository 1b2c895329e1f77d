"""Typed contract events with their log position (for cursors and reorg detection)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gridpeer.chain.backend import RawLog
from gridpeer.chain.codec import decode_event
from gridpeer.chain.types import (
    HONOURED,
    M32,
    M96,
    Order,
    Side,
    Trade,
    batch_trade_id,
    cost_wei,
    decode_batch_header,
    decode_batch_trades,
    decode_honoured,
    decode_order_word,
    decode_trade_word,
)


@dataclass(frozen=True)
class LogMeta:
    """Where a log is: block number and hash, transaction hash, index in the block."""

    block_number: int
    block_hash: bytes
    tx_hash: bytes
    log_index: int


@dataclass(frozen=True)
class OrderPosted:
    """A sell offer (``order.side == "offer"``) or a purchase request was posted."""

    meta: LogMeta
    order: Order


@dataclass(frozen=True)
class TradeCreated:
    """A trade with escrowed payment: from a buy, a fill or a batch (``order_id`` 0)."""

    meta: LogMeta
    trade: Trade
    order_id: int


@dataclass(frozen=True)
class DeliveryConfirmed:
    """The oracle confirmed ``delivered_wh``; seller credited, buyer refunded (wei)."""

    meta: LogMeta
    trade_id: int
    delivered_wh: int
    seller_paid: int
    buyer_refund: int


SKIP_REASONS = {1: "unknown or already settled", 2: "delivered too much", 3: "outside window"}
"""``ConfirmSkipped.reason`` codes of ``confirmBatch``."""


@dataclass(frozen=True)
class ConfirmSkipped:
    """``confirmBatch`` left ``trade_id`` as it was; ``reason`` is a key of
    :data:`SKIP_REASONS` (1 unknown or already settled, 2 delivered more Wh than
    contracted, 3 outside the trade's settlement time)."""

    meta: LogMeta
    trade_id: int
    reason: int


@dataclass(frozen=True)
class Reclaimed:
    """The buyer took back the escrow of an unconfirmed trade after window + grace."""

    meta: LogMeta
    trade_id: int
    refund: int


@dataclass(frozen=True)
class Cancelled:
    """An order's remaining Wh were withdrawn; a request's escrow refunded (wei)."""

    meta: LogMeta
    order_id: int
    remaining_wh: int
    refund: int


@dataclass(frozen=True)
class DisputeOpened:
    """The oracle disputed a trade: the seller's meter said ``seller_wh`` Wh, the buyer's
    ``buyer_wh``; the buyer can no longer reclaim it."""

    meta: LogMeta
    trade_id: int
    seller_wh: int
    buyer_wh: int


@dataclass(frozen=True)
class DisputeResolved:
    """The admin settled a disputed trade for ``delivered_wh`` Wh (a DeliveryConfirmed
    event with the payments precedes it in the same transaction)."""

    meta: LogMeta
    trade_id: int
    delivered_wh: int


@dataclass(frozen=True)
class MoneyMoved:
    """``kind`` is ``"deposit"`` or ``"withdraw"``; ``amount`` in wei."""

    meta: LogMeta
    kind: str
    member: str
    amount: int


@dataclass(frozen=True)
class AdminEvent:
    """MemberAdded, MemberRemoved, RoleSet, ScheduleSet, GraceSet, BatchSettled,
    PreferencesHonoured (fields: :func:`honoured_fields`)."""

    meta: LogMeta
    name: str
    fields: dict[str, Any]


Event = (
    OrderPosted
    | TradeCreated
    | DeliveryConfirmed
    | ConfirmSkipped
    | Reclaimed
    | Cancelled
    | MoneyMoved
    | DisputeOpened
    | DisputeResolved
    | AdminEvent
)


TRADE_EVENTS = ("TradeCreated", "BatchSettled")
"""The contract's events that create trades (:class:`TradeCreated`): a book trade, and a
coordinator's batch of trades."""


def decode_logs(logs: list[RawLog], member: Callable[[int], str]) -> list[Event]:
    """Decode this contract's logs; ``member(idx)`` resolves member indices to addresses.

    A ``BatchSettled`` log yields an :class:`AdminEvent` followed by one
    :class:`TradeCreated` per trade (``order_id`` = 0), all with the same meta.
    """
    out: list[Event] = []
    for log in logs:
        dec = decode_event(log.topics, log.data)
        if dec is None:
            continue
        name, f = dec
        meta = LogMeta(log.block_number, log.block_hash, log.tx_hash, log.log_index)
        if name in ("OfferPosted", "RequestPosted"):
            oid = f.get("offerId", f.get("requestId"))
            assert isinstance(oid, int)
            own, rem, price, start, end, bid, fills = decode_order_word(oid, f["order"])
            side: Side = "offer" if name == "OfferPosted" else "request"
            order = Order(oid, side, member(own), rem, price, start, end, bid, fills)
            out.append(OrderPosted(meta, order))
        elif name == "TradeCreated":
            s, b, wh, price, start, end, escrow, grace = decode_trade_word(f["trade"])
            t = Trade(
                f["tradeId"], member(s), member(b), wh, price, start, end, escrow, grace_s=grace
            )
            out.append(TradeCreated(meta, t, f["orderId"]))
        elif name == "DeliveryConfirmed":
            x = f["settlement"]
            out.append(
                DeliveryConfirmed(meta, f["tradeId"], x & M32, (x >> 32) & M96, (x >> 128) & M96)
            )
        elif name == "ConfirmSkipped":
            out.append(ConfirmSkipped(meta, f["tradeId"], f["reason"]))
        elif name == "Reclaimed":
            out.append(Reclaimed(meta, f["tradeId"], f["refund"]))
        elif name == "DisputeOpened":
            out.append(DisputeOpened(meta, f["tradeId"], f["sellerWh"], f["buyerWh"]))
        elif name == "DisputeResolved":
            out.append(DisputeResolved(meta, f["tradeId"], f["deliveredWh"]))
        elif name == "Cancelled":
            out.append(Cancelled(meta, f["orderId"], f["remainingWh"], f["refund"]))
        elif name in ("Deposited", "Withdrawn"):
            kind = "deposit" if name == "Deposited" else "withdraw"
            out.append(MoneyMoved(meta, kind, f["member"], f["amount"]))
        elif name == "BatchSettled":
            h = decode_batch_header(f["header"])
            out.append(AdminEvent(meta, name, {"batchId": f["batchId"], "count": h.count}))
            for i, (s, b, wh, price) in enumerate(decode_batch_trades(h, f["trades"])):
                t = Trade(
                    batch_trade_id(f["batchId"], i),
                    member(s),
                    member(b),
                    wh,
                    price,
                    h.start,
                    h.end,
                    cost_wei(wh, price),
                    grace_s=h.grace_s,
                )
                out.append(TradeCreated(meta, t, 0))
        elif name == "PreferencesHonoured":
            out.append(AdminEvent(meta, name, honoured_fields(f["batchId"], f["honoured"])))
        else:
            out.append(AdminEvent(meta, name, f))
    return out


def honoured_fields(batch_id: int, words: list[int]) -> dict[str, Any]:
    """A ``PreferencesHonoured`` event's fields: ``batchId``, ``honoured`` (the raw words)
    and ``trades``: the honoured preference by batch trade id, e.g.
    ``{batch_trade_id(7, 0): "partner"}`` (trades not named honoured none)."""
    codes = decode_honoured(words, 128 * len(words))
    trades = {batch_trade_id(batch_id, i): HONOURED[c] for i, c in enumerate(codes) if c}
    return {"batchId": batch_id, "honoured": words, "trades": trades}
