"""When may a member bid, for which delivery windows? Pure functions over the contract's
trading schedule (:class:`gridpeer.chain.types.Schedule`), mirroring its ``_checkWindow``.

Times are UTC unix seconds; the schedule's windows are minutes of the local day, local =
UTC + ``tz_minutes``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridpeer.chain.types import Schedule

DAY_S = 86_400


@dataclass(frozen=True)
class Window:
    """A delivery window ``[start, end)`` taking bids in ``[bid_open, start)`` (UTC s)."""

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


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def describe(s: Schedule) -> str:
    """The schedule in words (local times)."""
    if s.mode == "open":
        return "Open market: any delivery window, bids until it starts."
    if s.mode == "continuous":
        return f"Continuous: {s.slot_minutes}-minute delivery slots, bids until a slot starts."
    b1, d1, e1, b2, d2, e2 = s.windows
    tz = f"UTC{s.tz_minutes / 60:+g}" if s.tz_minutes else "UTC"
    return (
        f"Trading windows ({tz}): bids {_hhmm(b1)}–{_hhmm(d1)} → delivery "
        f"{_hhmm(d1)}–{_hhmm(e1)}; bids {_hhmm(b2)}–{_hhmm(d2)} → delivery "
        f"{_hhmm(d2)}–{_hhmm(e2)}."
    )


def sessions_around(s: Schedule, now: int) -> list[Window]:
    """Thesis-style sessions of the local days before, of and after ``now``."""
    b1, d1, e1, b2, d2, e2 = s.windows
    tz_s = s.tz_minutes * 60
    local_midnight = (now + tz_s) // DAY_S * DAY_S - tz_s
    out = []
    for day in (-1, 0, 1, 2):
        m = local_midnight + day * DAY_S
        out.append(Window(m + b1 * 60, m + d1 * 60, m + e1 * 60))
        out.append(Window(m + b2 * 60, m + d2 * 60, m + e2 * 60))
    return sorted(out, key=lambda w: w.start)


def status(s: Schedule, now: int, horizon: int = 4) -> Status:
    """Open delivery windows at ``now`` (at most ``horizon``) and the next change."""
    if s.mode == "windows":
        sessions = sessions_around(s, now)
        open_ = tuple(w for w in sessions if w.bid_open <= now < w.start)
        if open_:
            return Status(now, open_, open_[0].start, "bidding closes", "")
        nxt = next(w for w in sessions if w.bid_open > now)
        b1 = s.windows[0]
        why = (
            f"bidding is closed now; it opens at {_hhmm(b1)} local time"
            if nxt.bid_open - now > 4 * 3600
            else "bidding is closed now; the next session opens soon"
        )
        return Status(now, (), nxt.bid_open, "bidding opens", why)
    slot = (s.slot_minutes if s.mode == "continuous" else 15) * 60
    tz_s = s.tz_minutes * 60
    first = ((now + tz_s) // slot + 1) * slot - tz_s
    if s.mode == "continuous":
        wins = tuple(Window(0, first + k * slot, first + (k + 1) * slot) for k in range(horizon))
    else:
        hour = 3600
        first = (now // hour + 1) * hour
        wins = tuple(Window(0, first + k * hour, first + (k + 1) * hour) for k in range(horizon))
    return Status(now, wins, wins[0].start, "bidding closes", "")


def check_window(s: Schedule, now: int, start: int, end: int) -> str | None:
    """Why bidding for ``[start, end)`` at ``now`` would be refused, or None if allowed."""
    if start >= end:
        return "the delivery window must end after it starts"
    if start <= now:
        return "the delivery window has already started; bidding for it is closed"
    if s.mode == "open":
        return None
    if s.mode == "continuous":
        slot = s.slot_minutes * 60
        if (start + s.tz_minutes * 60) % slot or end - start != slot:
            return f"delivery windows are {s.slot_minutes}-minute slots"
        return None
    for w in sessions_around(s, now):
        if (w.start, w.end) == (start, end):
            if now < w.bid_open:
                return "bidding for this delivery window has not opened yet"
            return None
    return "not a delivery window of the trading schedule"
