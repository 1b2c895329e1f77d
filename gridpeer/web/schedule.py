"""What the market page says about the trading schedule: which delivery windows take bids
now, when that changes, and why a bid would be refused — in the contract's unix seconds,
computed by the one trading calendar (:meth:`gridpeer.chain.types.Schedule.calendar`,
:mod:`gridpeer.market.calendar`).

Times are UTC unix seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from gridpeer.chain.types import Schedule
from gridpeer.market.calendar import Session, refusal, zone


@dataclass(frozen=True)
class Window:
    """A delivery window ``[start, end)`` taking bids in ``[bid_open, start)`` (UTC s;
    ``bid_open`` 0 = any time before it starts)."""

    bid_open: int
    start: int
    end: int


@dataclass(frozen=True)
class Status:
    """What the market accepts at ``now``.

    Attributes:
        open_windows: delivery windows taking bids now, soonest first.
        next_change: when that changes next (UTC s): a window's gate closes or one opens.
        next_change_what: ``"bidding closes"`` or ``"bidding opens"``.
        reason: why nothing is open (empty when something is).
    """

    now: int
    open_windows: tuple[Window, ...]
    next_change: int | None
    next_change_what: str
    reason: str


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _ts(t: datetime) -> int:
    return int(t.timestamp())


def _window(s: Session) -> Window:
    bid_open = _ts(s.bid_open)
    return Window(max(bid_open, 0), _ts(s.delivery_start), _ts(s.delivery_end))


def describe(s: Schedule) -> str:
    """The schedule in words (local times)."""
    return s.calendar().describe()


def status(s: Schedule, now: int, horizon: int = 4) -> Status:
    """Open delivery windows at ``now`` (at most ``horizon``) and the next change."""
    cal = s.calendar()
    st = cal.status(_dt(now))
    open_ = tuple(_window(w) for w in st.open[:horizon])
    if open_:
        return Status(now, open_, _ts(st.open[0].bid_close), "bidding closes", "")
    nxt = st.next
    if nxt is None:
        return Status(now, (), None, "", "the market takes no bids")
    local = nxt.bid_open.astimezone(zone(cal.timezone)).strftime("%H:%M")
    when = "soon" if _ts(nxt.bid_open) - now <= 4 * 3600 else f"at {local} local time"
    why = f"bidding is closed now; the next session opens {when}"
    return Status(now, (), _ts(nxt.bid_open), "bidding opens", why)


def check_window(s: Schedule, now: int, start: int, end: int) -> str | None:
    """Why bidding for ``[start, end)`` at ``now`` would be refused, or None if allowed."""
    return refusal(s.calendar(), _dt(now), _dt(start), _dt(end))
