"""A member's monthly statement: energy bought and sold peer to peer, grid import and
export, payments, and what trading saved against the grid's tariff.

Pure functions over the indexed trades and the meter's 15-minute buckets. Units: energy
Wh, prices wei per kWh, money wei; a trade belongs to the month in which its delivery
window starts (community time zone).

Savings: a kWh bought peer to peer instead of imported saves ``import tariff - price``;
a kWh sold instead of fed in earns ``price - feed-in tariff`` more.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from gridpeer.chain.hub import TradeRow
from gridpeer.store.base import Bucket

QUARTER_H = 0.25


@dataclass(frozen=True)
class StatementTrade:
    """One settled or reclaimed trade of the member (``role`` ``bought`` or ``sold``)."""

    id: int
    start: int  # window start, UTC unix s
    end: int
    role: str
    other: str  # the other party's house id, or its address
    wh: int  # contracted
    delivered_wh: int  # metered and paid (0 when reclaimed)
    price: int  # wei/kWh
    amount_wei: int  # paid (bought) or received (sold)
    status: str  # settled | reclaimed


@dataclass
class Statement:
    """A house's month. Money in wei, energy in Wh."""

    house: str
    month: str  # YYYY-MM
    trades: list[StatementTrade] = field(default_factory=list)
    bought_wh: int = 0
    sold_wh: int = 0
    paid_wei: int = 0
    received_wei: int = 0
    grid_import_wh: float = 0.0
    grid_export_wh: float = 0.0
    grid_import_cost_wei: int = 0
    grid_export_revenue_wei: int = 0
    savings_wei: int = 0


def month_bounds(month: date, tz: tzinfo = UTC) -> tuple[datetime, datetime]:
    """[first local midnight of ``month``, first of the next month) as aware datetimes."""
    first = datetime(month.year, month.month, 1, tzinfo=tz)
    nxt = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=tz)
    return first, nxt


def statement(
    house: str,
    accounts: set[str],
    month: date,
    trades: Iterable[TradeRow],
    meter: Sequence[Bucket],
    tariff: tuple[int, int],
    tz: tzinfo = UTC,
    house_of: dict[str, str] | None = None,
) -> Statement:
    """The statement of ``house`` (member ``accounts``, lower-case 0x…) for ``month``.

    Args:
        trades: every indexed trade (open ones are left out: not yet paid).
        meter: the house meter's 15-minute buckets of the month (``p_grid`` W: + import).
        tariff: (import, feed-in) wei per kWh.
        house_of: address (lower case) → house id, to name the other party.
    """
    start, end = month_bounds(month, tz)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    names = house_of or {}
    imp, feed = tariff
    s = Statement(house=house, month=f"{month.year:04d}-{month.month:02d}")
    for t in sorted(trades, key=lambda t: (t.start, t.id)):
        if t.status == "open" or not lo <= t.start < hi:
            continue
        sold, bought = t.seller.lower() in accounts, t.buyer.lower() in accounts
        if not (sold or bought):
            continue
        delivered = t.delivered_wh or 0
        if bought:
            paid = t.escrow - (t.buyer_refund or 0)
            other = t.seller
            s.bought_wh += delivered
            s.paid_wei += paid
            s.savings_wei += delivered * imp // 1000 - paid
            s.trades.append(_line(t, "bought", other, delivered, paid, names))
        if sold:
            got = t.seller_paid or 0
            s.sold_wh += delivered
            s.received_wei += got
            s.savings_wei += got - delivered * feed // 1000
            s.trades.append(_line(t, "sold", t.buyer, delivered, got, names))
    for b in meter:
        if b.p_grid is None:
            continue
        wh = b.p_grid * QUARTER_H
        if wh >= 0:
            s.grid_import_wh += wh
        else:
            s.grid_export_wh -= wh
    s.grid_import_cost_wei = int(s.grid_import_wh * imp // 1000)
    s.grid_export_revenue_wei = int(s.grid_export_wh * feed // 1000)
    return s


def _line(
    t: TradeRow, role: str, other: str, delivered: int, amount: int, names: dict[str, str]
) -> StatementTrade:
    return StatementTrade(
        id=t.id,
        start=t.start,
        end=t.end,
        role=role,
        other=names.get(other.lower(), other),
        wh=t.wh,
        delivered_wh=delivered,
        price=t.price,
        amount_wei=amount,
        status=t.status,
    )


def to_csv(s: Statement, wei_per_unit: int, currency: str, tz: tzinfo = UTC) -> str:
    """The statement as CSV: one row per trade, then the month's totals (money in
    ``currency`` with two decimals; energy in Wh)."""

    def money(wei: int) -> str:
        return f"{wei / wei_per_unit:.2f}"

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["house", s.house, "month", s.month, "currency", currency])
    w.writerow(
        [
            "trade",
            "window_start",
            "window_end",
            "role",
            "other_house",
            "contracted_wh",
            "delivered_wh",
            f"price_{currency}_per_kwh",
            f"amount_{currency}",
            "status",
        ]
    )
    for t in s.trades:
        w.writerow(
            [
                t.id,
                datetime.fromtimestamp(t.start, tz).isoformat(),
                datetime.fromtimestamp(t.end, tz).isoformat(),
                t.role,
                t.other,
                t.wh,
                t.delivered_wh,
                money(t.price),
                money(t.amount_wei),
                t.status,
            ]
        )
    w.writerow([])
    for name, value in (
        ("p2p_bought_wh", s.bought_wh),
        ("p2p_sold_wh", s.sold_wh),
        (f"p2p_paid_{currency}", money(s.paid_wei)),
        (f"p2p_received_{currency}", money(s.received_wei)),
        ("grid_import_wh", round(s.grid_import_wh)),
        ("grid_export_wh", round(s.grid_export_wh)),
        (f"grid_import_cost_{currency}", money(s.grid_import_cost_wei)),
        (f"grid_export_revenue_{currency}", money(s.grid_export_revenue_wei)),
        (f"savings_{currency}", money(s.savings_wei)),
    ):
        w.writerow([name, value])
    return out.getvalue()
