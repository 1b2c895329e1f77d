"""``gridpeer admin disputes …``: list the trades the oracle disputed, and settle one.

When a trade's two meters disagree beyond the tolerance the oracle opens a dispute on chain
(``openDispute``, with both reported Wh in the ``DisputeOpened`` event). The buyer can no
longer reclaim that escrow and nothing moves by itself: the admin settles it with
``resolveDispute(tradeId, deliveredWh)``, which pays the seller ``deliveredWh × price /
1000`` wei and refunds the rest of the escrow to the buyer (as the oracle's
``confirmDelivery`` would). The contract takes the resolution at any time, also after the
trade's grace has ended (a dispute bars the reclaim until it is settled).

Units: energy Wh, prices wei per kWh, money wei (also shown in the tariff's currency),
times UTC unix seconds shown in the community's local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from gridpeer.chain.backend import Reverted
from gridpeer.chain.client import MarketClient
from gridpeer.chain.codec import abi, decode_revert, encode_call
from gridpeer.chain.errors import AlreadySettled
from gridpeer.chain.events import (
    DeliveryConfirmed,
    DisputeOpened,
    DisputeResolved,
    Event,
    Reclaimed,
    decode_logs,
)
from gridpeer.chain.keystore import Prompt
from gridpeer.chain.types import Trade, cost_wei
from gridpeer.core.settings import ConfigError, Settings
from gridpeer.runtime.admin import (
    LOG_SPAN,
    Report,
    houses_of,
    key_address,
    open_market,
    signer,
)

_TOPICS = {ev.name: ev.topic for ev in abi().events.values()}
DISPUTE_EVENTS = ("DisputeOpened", "DisputeResolved", "DeliveryConfirmed", "Reclaimed")
"""The events that open a dispute or close a trade (the node sends only these)."""


@dataclass(frozen=True)
class Dispute:
    """An open dispute: the trade as the chain holds it and what each meter reported, Wh
    (from its ``DisputeOpened`` event)."""

    trade: Trade
    seller_wh: int
    buyer_wh: int


# ---------------------------------------------------------------------- reading
def dispute_events(market: MarketClient, from_block: int) -> list[Event]:
    """The disputes opened and trades closed since ``from_block``, oldest first, read in
    chunks of :data:`~gridpeer.runtime.admin.LOG_SPAN` blocks."""
    topics = [_TOPICS[name] for name in DISPUTE_EVENTS]
    head = market.backend.block_number()
    out: list[Event] = []
    for start in range(from_block, head + 1, LOG_SPAN):
        logs = market.backend.get_logs(
            market.address, start, min(head, start + LOG_SPAN - 1), topics
        )
        out += decode_logs(logs, market.member_address)
    return out


def open_disputes(market: MarketClient, from_block: int) -> list[Dispute]:
    """Every trade disputed and not yet settled, by trade id (the chain's state decides;
    the events give the reported Wh)."""
    opened: dict[int, DisputeOpened] = {}
    for ev in dispute_events(market, from_block):
        if isinstance(ev, DisputeOpened):
            opened[ev.trade_id] = ev
    out: list[Dispute] = []
    for tid, ev in sorted(opened.items()):
        trade = market.trade(tid)
        if trade is not None and trade.disputed:
            out.append(Dispute(trade, ev.seller_wh, ev.buyer_wh))
    return out


# ---------------------------------------------------------------------- formatting
def local_zone(settings: Settings, market: MarketClient) -> tzinfo:
    """The community's time zone: ``timezone`` (IANA), else the UTC offset of the schedule
    the contract enforces."""
    if settings.timezone is not None:
        from zoneinfo import ZoneInfo

        return ZoneInfo(settings.timezone)
    return timezone(timedelta(minutes=market.schedule().tz_minutes))


def zone_name(settings: Settings, tz: tzinfo) -> str:
    """``America/Santiago``, or ``UTC-03:00`` for a fixed offset."""
    if settings.timezone is not None:
        return settings.timezone
    offset = tz.utcoffset(None) or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local_time(ts: int, tz: tzinfo) -> str:
    """``2026-11-30 11:15:00`` for UTC unix second ``ts``, in ``tz``."""
    return datetime.fromtimestamp(ts, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def window_text(trade: Trade, tz: tzinfo) -> str:
    """The delivery window in local time, the date once when both ends share it."""
    start = datetime.fromtimestamp(trade.start, UTC).astimezone(tz)
    end = datetime.fromtimestamp(trade.end, UTC).astimezone(tz)
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M:%S}-{end:%H:%M:%S}"
    return f"{start:%Y-%m-%d %H:%M:%S} - {end:%Y-%m-%d %H:%M:%S}"


def money(wei: int, settings: Settings, per_kwh: bool = False) -> str:
    """``350000000000000 wei (350 CLP)``: wei, and the tariff's currency."""
    from gridpeer.web.models_market import Currency
    from gridpeer.web.units import money as in_currency

    cur = Currency(code=settings.tariff.currency, wei_per_unit=str(settings.tariff.wei_per_unit))
    unit = " wei/kWh" if per_kwh else " wei"
    return f"{wei}{unit} ({in_currency(wei, cur, per_kwh)})"


def _reclaim(trade: Trade, now: int, tz: tzinfo) -> str:
    when = local_time(trade.reclaimable_at, tz)
    if now < trade.reclaimable_at:
        return f"buyer's reclaim: barred while disputed (it would open at {when})"
    return (
        f"buyer's reclaim: barred while disputed (its grace ended; it would have opened at {when})"
    )


def disputes_list(settings: Settings, now: int | None = None) -> list[str]:
    """The open disputes as text lines: per trade its houses, local window, Wh, both
    reported Wh, price, escrow, reclaim time and, with ``store_url``, the oracle's reason."""
    market = open_market(settings)
    t = market.now() if now is None else now
    tz = local_zone(settings, market)
    houses = houses_of(settings)
    disputes = open_disputes(market, settings.chain.deploy_block)
    reasons: dict[int, str] = {}
    notes: list[str] = []
    if settings.store_url is not None and disputes:
        from gridpeer.runtime.admin_oracle import read_oracle_trades

        try:
            rows = read_oracle_trades(settings.store_url)
        except Exception as exc:  # the store is down: the chain's view still holds
            notes.append(f"oracle's reasons: cannot read the store ({exc})")
        else:
            if rows is None:
                notes.append("oracle's reasons: no oracle state in the store")
            else:
                reasons = {r.trade_id: r.reason for r in rows if r.reason}
    lines = [f"open disputes ({len(disputes)}; local time {zone_name(settings, tz)}):"]
    for d in disputes:
        tr = d.trade
        seller = houses.get(tr.seller.lower(), tr.seller)
        buyer = houses.get(tr.buyer.lower(), tr.buyer)

        lines += [
            f"  trade {tr.id}: seller {seller} -> buyer {buyer}, {tr.wh} Wh, "
            f"window {window_text(tr, tz)}",
            f"    reported: seller out {d.seller_wh} Wh, buyer in {d.buyer_wh} Wh",
            f"    price {money(tr.price, settings, per_kwh=True)}, "
            f"escrow {money(tr.escrow, settings)}",
            f"    {_reclaim(tr, t, tz)}",
        ]
        if tr.id in reasons:
            lines.append(f"    oracle: {reasons[tr.id]}")
    if disputes:
        lines.append("settle one with `gridpeer admin disputes resolve TRADE_ID --delivered-wh N`")
    return lines + notes


# ---------------------------------------------------------------------- resolving
def _closed_how(market: MarketClient, settings: Settings, trade_id: int) -> str:
    """How a trade no longer open was closed, from its events."""
    confirmed: DeliveryConfirmed | None = None
    resolved = reclaimed = None
    for ev in dispute_events(market, settings.chain.deploy_block):
        if isinstance(ev, DeliveryConfirmed) and ev.trade_id == trade_id:
            confirmed = ev
        elif isinstance(ev, DisputeResolved) and ev.trade_id == trade_id:
            resolved = ev
        elif isinstance(ev, Reclaimed) and ev.trade_id == trade_id:
            reclaimed = ev
    if reclaimed is not None:
        return f"reclaimed by the buyer (refund {money(reclaimed.refund, settings)})"
    if confirmed is None:
        return "settled"
    who = "dispute resolved by the admin" if resolved is not None else "confirmed by the oracle"
    return (
        f"{who} for {confirmed.delivered_wh} Wh: seller paid "
        f"{money(confirmed.seller_paid, settings)}, buyer refunded "
        f"{money(confirmed.buyer_refund, settings)}"
    )


def _settled(market: MarketClient, trade_id: int, admin: str) -> bool:
    """Whether the contract says ``trade_id`` (not open) was a trade, settled since
    (True), or never was one (False): it tells the two apart when asked to resolve it
    (a read-only call from the admin)."""
    try:
        market.backend.call(market.address, encode_call("resolveDispute", trade_id, 0), admin)
    except Reverted as exc:
        return isinstance(decode_revert(exc.data), AlreadySettled)
    return False


def dispute_resolve(
    settings: Settings,
    trade_id: int,
    delivered_wh: int,
    report: Report,
    source: str | None = None,
    prompt: Prompt | None = None,
) -> None:
    """Settle disputed trade ``trade_id`` for ``delivered_wh`` Wh with the admin key: the
    seller is paid ``delivered_wh × price / 1000`` wei, the buyer refunded the rest of the
    escrow. A trade already settled is left as it is (said in ``report``). ``source``
    (who measured ``delivered_wh``, e.g. ``feeder meter``) goes into the report.

    Raises:
        ValueError: no such trade, the trade is open but not disputed, or ``delivered_wh``
            outside 0..its Wh.
        ConfigError: no ``[keys.admin]``, or it is not the market's admin.
    """
    market = open_market(settings)
    admin = key_address(settings, "admin")
    if market.roles()["admin"].lower() != admin.lower():
        raise ConfigError(
            f"[keys.admin] {admin} is not the market's admin ({market.roles()['admin']})"
        )
    trade = market.trade(trade_id)
    if trade is None:
        if _settled(market, trade_id, admin):
            report.same(
                f"trade {trade_id} is already settled: {_closed_how(market, settings, trade_id)}"
            )
            return
        raise ValueError(f"no trade {trade_id} on the market {market.address}")
    tz = local_zone(settings, market)
    if not trade.disputed:
        raise ValueError(
            f"trade {trade_id} ({trade.wh} Wh, window {window_text(trade, tz)} "
            f"{zone_name(settings, tz)}) is not "
            "disputed: the oracle settles it (see `gridpeer admin state`)"
        )
    if not 0 <= delivered_wh <= trade.wh:
        raise ValueError(
            f"--delivered-wh {delivered_wh}: trade {trade_id} traded {trade.wh} Wh, so "
            f"0 to {trade.wh} Wh"
        )
    houses = houses_of(settings)
    seller = houses.get(trade.seller.lower(), trade.seller)
    buyer = houses.get(trade.buyer.lower(), trade.buyer)
    paid = cost_wei(delivered_wh, trade.price)
    refund = trade.escrow - paid
    by = f" (from {source})" if source else ""
    what = (
        f"resolve the dispute of trade {trade_id} for {delivered_wh} of {trade.wh} Wh{by}: "
        f"seller {seller} paid {money(paid, settings)}, buyer {buyer} refunded "
        f"{money(refund, settings)}"
    )
    if report.dry_run:
        report.did(what)
        return
    market.resolve_dispute(signer(settings, "admin", prompt), trade_id, delivered_wh)
    done = [e for e in market.receipt_events() if isinstance(e, DeliveryConfirmed)]
    if done:  # what the contract actually moved
        paid, refund = done[0].seller_paid, done[0].buyer_refund
        what = (
            f"resolved the dispute of trade {trade_id} for {delivered_wh} of {trade.wh} Wh"
            f"{by}: seller {seller} paid {money(paid, settings)}, buyer {buyer} refunded "
            f"{money(refund, settings)} (credited on chain; each withdraws it)"
        )
    receipt = market.last_receipt
    if receipt is not None:
        what += f"; tx 0x{receipt.tx_hash.hex()} in block {receipt.block_number}"
    report.did(what)
