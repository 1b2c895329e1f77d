"""Typed values of the market contract and decoders for its packed storage words.

Units: energy Wh, prices wei per kWh, money wei, times UTC unix seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Literal

from gridpeer.market.calendar import (
    ContinuousCalendar,
    OpenCalendar,
    SessionSpec,
    WindowCalendar,
    fixed_offset,
)

M16 = (1 << 16) - 1
M20 = (1 << 20) - 1
M32 = (1 << 32) - 1
M40 = (1 << 40) - 1
M64 = (1 << 64) - 1
M96 = (1 << 96) - 1
M128 = (1 << 128) - 1

Side = Literal["offer", "request"]


def cost_wei(wh: int, price: int) -> int:
    """Escrow of ``wh`` Wh at ``price`` wei/kWh: floor(wh * price / 1000) wei."""
    return wh * price // 1000


def offer_id(n: int) -> int:
    """Id of the n-th offer (1-based)."""
    return n << 2 | 1


def request_id(n: int) -> int:
    """Id of the n-th request (1-based)."""
    return n << 2 | 2


def batch_trade_id(batch: int, index: int) -> int:
    """Id of trade ``index`` (0-based) of batch ``batch``."""
    return (batch << 16 | index) << 2


def id_kind(any_id: int) -> Literal["offer", "request", "trade", "batch-trade"]:
    """What an id's tag says it is (an offer/request id may also name the trade it became)."""
    kinds: tuple[Literal["batch-trade"], Literal["offer"], Literal["request"], Literal["trade"]]
    kinds = ("batch-trade", "offer", "request", "trade")
    return kinds[any_id & 3]


@dataclass(frozen=True)
class Order:
    """An open or closed sell offer / purchase request."""

    id: int
    side: Side
    owner: str
    remaining_wh: int
    price: int  # wei/kWh
    start: int  # delivery window [start, end), UTC unix s
    end: int
    bid_open: int  # bidding opened at (0 = any time before start)
    fills: int  # partial trades split off so far


@dataclass(frozen=True)
class Trade:
    """A contracted delivery with escrowed payment (wei)."""

    id: int
    seller: str
    buyer: str
    wh: int
    price: int  # wei/kWh
    start: int
    end: int
    escrow: int  # wei held for this trade
    disputed: bool = False  # the oracle opened a dispute: no reclaim, admin resolves
    grace_s: int = 0  # this trade's grace after ``end`` (s), fixed when its order was posted

    @property
    def reclaimable_at(self) -> int:
        """First UTC unix second the buyer may reclaim (if no dispute is open)."""
        return self.end + self.grace_s + 1


@dataclass(frozen=True)
class Schedule:
    """Trading schedule; windows are (bid1, del1, end1, bid2, del2, end2) local minutes."""

    mode: Literal["open", "windows", "continuous"]
    tz_minutes: int = 0  # local = UTC + tz_minutes
    slot_minutes: int = 15
    windows: tuple[int, int, int, int, int, int] = (630, 780, 840, 840, 990, 1050)

    @property
    def mode_code(self) -> int:
        """The contract's mode number (0 open, 1 windows, 2 continuous)."""
        return ("open", "windows", "continuous").index(self.mode)

    def calendar(self) -> OpenCalendar | WindowCalendar | ContinuousCalendar:
        """The trading calendar the contract enforces with this schedule (a fixed UTC
        offset): what the web app, the agents and the coordinator use to know when bids are
        taken for which delivery windows.

        Raises:
            ValueError: a schedule the calendar cannot express (a session ending at 24:00,
                overlapping delivery windows); gridpeer never sets one.
        """
        tz = fixed_offset(self.tz_minutes)
        if self.mode == "open":
            return OpenCalendar(tz)
        if self.mode == "continuous":
            return ContinuousCalendar(self.slot_minutes, 0, None, tz)
        b1, d1, e1, b2, d2, e2 = self.windows
        if max(e1, e2) >= 1440:
            raise ValueError("a delivery window must end before local midnight (23:59)")

        def at(minutes: int) -> time:
            return time(minutes // 60, minutes % 60)

        return WindowCalendar(
            (
                SessionSpec(at(b1), at(d1), at(d1), at(e1)),
                SessionSpec(at(b2), at(d2), at(d2), at(e2)),
            ),
            tz,
        )


THESIS_SCHEDULE = Schedule("windows")
"""Bids 10:30-13:00 and 14:00-16:30, deliveries 13:00-14:00 and 16:30-17:30 (UTC)."""


@dataclass(frozen=True)
class OrderTerms:
    """The terms a member signs off-chain (EIP-712 ``Order``) for batch settlement."""

    maker: str
    sell: bool
    wh: int
    price: int  # limit, wei/kWh: minimum for a sell, maximum for a buy
    start: int
    end: int
    nonce: int  # uint32, must exceed the maker's last consumed nonce
    expiry: int  # UTC unix s
    prefs: int = 0  # trading preferences a buy asks for: PREF_PARTNER | PREF_LOCAL | PREF_GREEN
    premium: int = 0  # wei/kWh a buy adds to the price of energy that honours a preference
    partner: int = 0  # member index (1-based) of the named partner, 0 = none


PREF_PARTNER = 1
"""``OrderTerms.prefs`` bit: energy from the named partner (``partner``)."""
PREF_LOCAL = 2
"""``OrderTerms.prefs`` bit: energy from the buyer's own zone (feeder)."""
PREF_GREEN = 4
"""``OrderTerms.prefs`` bit: energy from a green house."""
HONOURED = {0: "", 1: "partner", 2: "local", 3: "green"}
"""Names of a match's honoured-preference code (match word bits 128/2, the
``PreferencesHonoured`` event)."""


@dataclass(frozen=True)
class SignedOrder:
    """Order terms with the maker's signature (v, r, s)."""

    terms: OrderTerms
    v: int
    r: bytes
    s: bytes


@dataclass(frozen=True)
class Match:
    """``wh`` Wh from sell order ``sell_index`` to buy order ``buy_index`` at ``price``."""

    sell_index: int
    buy_index: int
    wh: int
    price: int  # wei/kWh
    honoured: int = 0  # buyer preference this match honours: 0 none, 1 partner, 2 local, 3 green


def decode_honoured(words: list[int], count: int) -> list[int]:
    """Honoured-preference code (0 none, 1 partner, 2 local, 3 green) of each of a batch's
    ``count`` trades from a ``PreferencesHonoured`` event's words (trade i at bits
    (i % 128) * 2 of word i // 128); all 0 when the batch emitted none (``words`` empty)."""
    if not words:
        return [0] * count
    return [(words[i // 128] >> (2 * (i % 128))) & 3 for i in range(count)]


def decode_order_word(oid: int, w: int) -> tuple[int, int, int, int, int, int, int]:
    """(owner idx, remaining Wh, price, start, end, bid_open, fills) of an order word.

    The word stores bidding's lead before ``start`` (0 = any time); see
    :func:`order_grace` for the grace the order's trades get.
    """
    start = (w >> 112) & M40
    lead = (w >> 192) & M20
    return (
        w & M16,
        (w >> 16) & M32,
        (w >> 48) & M64,
        start,
        (w >> 152) & M40,
        start - lead if lead else 0,
        (w >> 232) & M16,
    )


def order_grace(w: int) -> int:
    """Grace (s) after the window that trades of this order word get."""
    return (w >> 212) & M20


def decode_trade_word(t: int) -> tuple[int, int, int, int, int, int, int, int]:
    """(seller idx, buyer idx, Wh, price, start, end, escrow wei, grace s) of a book trade."""
    wh = (t >> 32) & M32
    price = (t >> 64) & M64
    return (
        t & M16,
        (t >> 16) & M16,
        wh,
        price,
        (t >> 128) & M40,
        (t >> 168) & M40,
        cost_wei(wh, price) + ((t >> 254) & 1),
        (t >> 224) & M20,
    )


@dataclass(frozen=True)
class BatchHeader:
    """A ``BatchSettled`` header: window (UTC unix s), trade count, grace (s) and the
    batch's one price (wei/kWh; 0 when each trade record carries its own)."""

    start: int
    end: int
    count: int
    grace_s: int
    price: int


def decode_batch_header(h: int) -> BatchHeader:
    """The fields of a batch header word (start 0/40 | end 40/40 | count 80/16 |
    grace 96/32 | price 128/64)."""
    return BatchHeader(h & M40, (h >> 40) & M40, (h >> 80) & M16, (h >> 96) & M32, (h >> 128) & M64)


def decode_batch_trades(header: BatchHeader, words: list[int]) -> list[tuple[int, int, int, int]]:
    """(seller idx, buyer idx, Wh, price) of each trade of a batch from its record words.

    A one-price batch (``header.price`` != 0) holds four 64-bit records per word
    (seller 0/16 | buyer 16/16 | Wh 32/32), record i at bit (i % 4) * 64 of word i // 4;
    otherwise two 128-bit records (… | price 64/64), record i at bit (i % 2) * 128 of
    word i // 2.
    """
    bits = 64 if header.price else 128
    per = 256 // bits
    mask = (1 << bits) - 1
    out = []
    for i in range(header.count):
        r = (words[i // per] >> (bits * (i % per))) & mask
        price = header.price or (r >> 64) & M64
        out.append((r & M16, (r >> 16) & M16, (r >> 32) & M32, price))
    return out


def pack_signed_order(o: SignedOrder) -> tuple[int, int, bytes, bytes]:
    """``settleBatch``'s calldata words of a signed order: (head, terms, r, s) with head =
    maker 0/160 | Wh 160/32 | nonce 192/32 | sell 224/1 | v - 27 225/1 and terms =
    price 0/64 | expiry 64/40 | premium 104/64 | prefs 168/3 | partner 171/16 (the window
    is the batch's)."""
    t = o.terms
    _fits(wh=(t.wh, 32), nonce=(t.nonce, 32), price=(t.price, 64), expiry=(t.expiry, 40))
    _fits(premium=(t.premium, 64), prefs=(t.prefs, 3), partner=(t.partner, 16))
    if o.v not in (27, 28):
        raise ValueError(f"signature v must be 27 or 28, got {o.v}")
    head = int(t.maker, 16) | t.wh << 160 | t.nonce << 192 | int(t.sell) << 224
    head |= (o.v - 27) << 225
    terms = t.price | t.expiry << 64 | t.premium << 104 | t.prefs << 168 | t.partner << 171
    return head, terms, o.r, o.s


def pack_match(m: Match) -> int:
    """``settleBatch``'s match word: sell order index 0/16 | buy order index 16/16 |
    Wh 32/32 | price 64/64 | honoured preference 128/2."""
    _fits(sell_index=(m.sell_index, 16), buy_index=(m.buy_index, 16), wh=(m.wh, 32))
    _fits(price=(m.price, 64), honoured=(m.honoured, 2))
    return m.sell_index | m.buy_index << 16 | m.wh << 32 | m.price << 64 | m.honoured << 128


def _fits(**fields: tuple[int, int]) -> None:
    """Raise ValueError unless each ``name=(value, bits)`` is an unsigned ``bits``-bit int."""
    for name, (value, bits) in fields.items():
        if not 0 <= value < 1 << bits:
            raise ValueError(f"{name} = {value} does not fit in uint{bits}")
