"""Trading calendars: when bids are accepted and when the traded energy is delivered.

The one place where gridpeer computes trading windows: the simulator, the web app, the
trading agents and the contract's schedule (:meth:`gridpeer.chain.types.Schedule.calendar`)
all use it, and a property test checks it against the contract's ``_checkWindow`` on the
real bytecode. Three kinds, time-zone aware and serialisable to/from a TOML-style dict
(stdlib only, no numpy, so the web UI and config loading import it cheaply):

* :class:`WindowCalendar` — daily sessions in local time, each a bidding window followed
  by a delivery window. :func:`thesis_default` is the thesis schedule: bids 10:30–13:00 →
  delivery 13:00–14:00; bids 14:00–16:30 → delivery 16:30–17:30; closed 17:30–23:59.
* :class:`ContinuousCalendar` — back-to-back delivery slots (default 15 min) aligned to
  local time; each slot takes bids from ``horizon`` before its start (or any time, with no
  horizon) until gate closure, ``gate_closure`` before its start.
* :class:`OpenCalendar` — any delivery window, bids until it starts (a test market).

Zones are IANA names (``America/Santiago``) or fixed offsets (``UTC-04:00``, what the
contract stores). Queries return concrete :class:`Session` objects in UTC: :meth:`open_at`
(bidding open now), :meth:`next_open` (the next session to open), :meth:`delivering_at`,
:meth:`session_for` (the session delivering exactly ``[start, end)``) and :meth:`status`
bundling them for the UI; :func:`refusal` says why a bid for a window would be refused.
Times must be tz-aware. Local times that do not exist or repeat at DST changes resolve
with Python's ``fold=0`` rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from itertools import pairwise
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Session:
    """One concrete trading session (all UTC, tz-aware).

    Attributes:
        bid_open: first instant bids are accepted.
        bid_close: gate closure: bids are accepted strictly before it.
        delivery_start: start of delivery (the orders' ``slot``).
        delivery_end: end of delivery.
    """

    bid_open: datetime
    bid_close: datetime
    delivery_start: datetime
    delivery_end: datetime

    def is_open(self, t: datetime) -> bool:
        """True when bids are accepted at ``t``."""
        return self.bid_open <= t < self.bid_close

    def is_delivering(self, t: datetime) -> bool:
        """True when ``t`` is inside the delivery window."""
        return self.delivery_start <= t < self.delivery_end

    def to_dict(self) -> dict[str, str]:
        """ISO-8601 strings, for JSON APIs."""
        return {
            "bid_open": self.bid_open.isoformat(),
            "bid_close": self.bid_close.isoformat(),
            "delivery_start": self.delivery_start.isoformat(),
            "delivery_end": self.delivery_end.isoformat(),
        }


@dataclass(frozen=True)
class CalendarStatus:
    """What the UI shows: sessions open for bids now, the next to open, and the session
    being delivered now (None when there is none)."""

    now: datetime
    open: tuple[Session, ...]
    next: Session | None
    delivering: Session | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (ISO-8601 times; None where there is no session)."""
        return {
            "now": self.now.isoformat(),
            "open": [s.to_dict() for s in self.open],
            "next": self.next.to_dict() if self.next else None,
            "delivering": self.delivering.to_dict() if self.delivering else None,
        }


class TradingCalendar(Protocol):
    """Interface of both calendar kinds."""

    def open_at(self, t: datetime) -> list[Session]:
        """Sessions accepting bids at ``t``, earliest delivery first."""
        ...

    def next_open(self, t: datetime) -> Session | None:
        """The first session whose bidding opens after ``t``."""
        ...

    def delivering_at(self, t: datetime) -> Session | None:
        """The session whose delivery window contains ``t``."""
        ...

    def session_for(self, start: datetime, end: datetime) -> Session | None:
        """The session delivering exactly ``[start, end)``, or None if there is none."""
        ...

    def status(self, t: datetime) -> CalendarStatus:
        """Open / next / delivering at ``t``."""
        ...

    def describe(self) -> str:
        """The calendar in words (local times)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """TOML-ready dict; :func:`calendar_from_dict` inverts it."""
        ...


def refusal(calendar: TradingCalendar, now: datetime, start: datetime, end: datetime) -> str | None:
    """Why a bid at ``now`` for delivery in ``[start, end)`` is refused, or None if it is
    accepted — the contract's rule: the window is one of the calendar's sessions, and bids
    are taken from its ``bid_open`` until its ``bid_close``."""
    if start >= end:
        return "the delivery window must end after it starts"
    if start <= now:
        return "the delivery window has already started; bidding for it is closed"
    session = calendar.session_for(start, end)
    if session is None:
        return f"not a delivery window of the trading schedule ({calendar.describe()})"
    if now < session.bid_open:
        return "bidding for this delivery window has not opened yet"
    if now >= session.bid_close:
        return "bidding for this delivery window has closed (gate closure)"
    return None


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"time must be timezone-aware, got naive {t.isoformat()}")
    return t


_OFFSET = re.compile(r"UTC(?:([+-])(\d{2}):(\d{2}))?")


def zone(name: str) -> tzinfo:
    """The time zone named ``name``: an IANA zone, or a fixed offset written ``UTC``,
    ``UTC+05:30``, ``UTC-04:00``.

    Raises:
        ValueError: unknown zone.
    """
    m = _OFFSET.fullmatch(name)
    if m is not None:
        if m.group(1) is None:
            return UTC
        minutes = int(m.group(2)) * 60 + int(m.group(3))
        return timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def fixed_offset(minutes: int) -> str:
    """The zone name of a fixed offset from UTC: ``-240`` → ``"UTC-04:00"``, ``0`` → ``"UTC"``."""
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _hhmm(s: object, field: str) -> time:
    if not isinstance(s, str):
        raise ValueError(f"{field}: expected 'HH:MM', got {s!r}")
    try:
        return time.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{field}: expected 'HH:MM', got {s!r}") from None


@dataclass(frozen=True)
class SessionSpec:
    """A daily session in local time: bids ``bid_open``–``bid_close``, delivery
    ``delivery_start``–``delivery_end`` (same local day)."""

    bid_open: time
    bid_close: time
    delivery_start: time
    delivery_end: time

    def __post_init__(self) -> None:
        if not self.bid_open < self.bid_close <= self.delivery_start < self.delivery_end:
            raise ValueError(
                "session needs bid_open < bid_close <= delivery_start < delivery_end, got "
                f"{self.bid_open}-{self.bid_close} -> {self.delivery_start}-{self.delivery_end}"
            )

    def on(self, day: date, tz: tzinfo) -> Session:
        """The concrete session on a local ``day``, in UTC."""

        def at(t: time) -> datetime:
            return datetime.combine(day, t, tzinfo=tz).astimezone(UTC)

        return Session(
            at(self.bid_open), at(self.bid_close), at(self.delivery_start), at(self.delivery_end)
        )


@dataclass(frozen=True)
class WindowCalendar:
    """Daily sessions (see module doc).

    Attributes:
        sessions: session specs; delivery windows must not overlap.
        timezone: IANA zone the times are in.
    """

    sessions: tuple[SessionSpec, ...]
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        zone(self.timezone)
        if not self.sessions:
            raise ValueError("a window calendar needs at least one session")
        specs = sorted(self.sessions, key=lambda s: s.delivery_start)
        for a, b in pairwise(specs):
            if b.delivery_start < a.delivery_end:
                raise ValueError(f"delivery windows overlap: {a} and {b}")
        object.__setattr__(self, "sessions", tuple(specs))

    def _days(self, t: datetime, before: int, after: int) -> list[Session]:
        tz = zone(self.timezone)
        d0 = _aware(t).astimezone(tz).date()
        return [
            spec.on(d0 + timedelta(days=k), tz)
            for k in range(-before, after + 1)
            for spec in self.sessions
        ]

    def open_at(self, t: datetime) -> list[Session]:
        """Sessions accepting bids at ``t``, earliest delivery first."""
        return [s for s in self._days(t, 1, 1) if s.is_open(t)]

    def next_open(self, t: datetime) -> Session | None:
        """The first session whose bidding opens after ``t``."""
        later = [s for s in self._days(t, 0, 2) if s.bid_open > t]
        return min(later, key=lambda s: s.bid_open) if later else None

    def delivering_at(self, t: datetime) -> Session | None:
        """The session whose delivery window contains ``t``."""
        return next((s for s in self._days(t, 1, 1) if s.is_delivering(t)), None)

    def sessions_on(self, day: date) -> list[Session]:
        """All sessions of a local day, in UTC."""
        tz = zone(self.timezone)
        return [spec.on(day, tz) for spec in self.sessions]

    def session_for(self, start: datetime, end: datetime) -> Session | None:
        """The session delivering exactly ``[start, end)``, or None."""
        return next(
            (
                s
                for s in self._days(start, 1, 1)
                if (s.delivery_start, s.delivery_end) == (start, end)
            ),
            None,
        )

    def status(self, t: datetime) -> CalendarStatus:
        """Open / next / delivering at ``t``."""
        return CalendarStatus(t, tuple(self.open_at(t)), self.next_open(t), self.delivering_at(t))

    def describe(self) -> str:
        """The sessions in words, e.g. "Trading windows (UTC-04:00): bids 10:30–13:00 →
        delivery 13:00–14:00; …"."""

        def hm(t: time) -> str:
            return t.strftime("%H:%M")

        parts = [
            f"bids {hm(s.bid_open)}–{hm(s.bid_close)} → delivery "
            f"{hm(s.delivery_start)}–{hm(s.delivery_end)}"
            for s in self.sessions
        ]
        return f"Trading windows ({self.timezone}): {'; '.join(parts)}."

    def to_dict(self) -> dict[str, Any]:
        """TOML-ready dict."""
        return {
            "kind": "windows",
            "timezone": self.timezone,
            "sessions": [
                {
                    "bid_open": s.bid_open.strftime("%H:%M"),
                    "bid_close": s.bid_close.strftime("%H:%M"),
                    "delivery_start": s.delivery_start.strftime("%H:%M"),
                    "delivery_end": s.delivery_end.strftime("%H:%M"),
                }
                for s in self.sessions
            ],
        }


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ContinuousCalendar:
    """Back-to-back delivery slots with gate closure (see module doc).

    Attributes:
        slot_minutes: slot length, min (divides 1440).
        gate_closure_minutes: bids for a slot close this long before it starts, min (>= 0).
        horizon_minutes: bids for a slot open this long before it starts, min
            (> gate closure); None: any time before gate closure (the contract's mode).
        timezone: IANA zone or fixed offset; slots align to its local midnight.
    """

    slot_minutes: int = 15
    gate_closure_minutes: int = 15
    horizon_minutes: int | None = 1440
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        zone(self.timezone)
        if self.slot_minutes <= 0 or 1440 % self.slot_minutes:
            raise ValueError(f"slot_minutes must divide 1440, got {self.slot_minutes}")
        if self.gate_closure_minutes < 0 or (
            self.horizon_minutes is not None and self.gate_closure_minutes >= self.horizon_minutes
        ):
            raise ValueError("need 0 <= gate_closure_minutes < horizon_minutes")

    @property
    def _slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    def _offset(self, t: datetime) -> timedelta:
        return _aware(t).astimezone(zone(self.timezone)).utcoffset() or timedelta(0)

    def slot_start(self, t: datetime) -> datetime:
        """UTC start of the delivery slot containing ``t`` (slots align to local time)."""
        off = self._offset(t)
        k = (_aware(t) - _EPOCH + off) // self._slot
        return _EPOCH + k * self._slot - off

    def session(self, delivery_start: datetime) -> Session:
        """The session delivering from ``delivery_start`` (must be a slot boundary)."""
        if self.slot_start(delivery_start) != delivery_start:
            raise ValueError(f"{delivery_start.isoformat()} is not a slot boundary")
        ds = delivery_start.astimezone(UTC)
        bid_open = (
            _EPOCH if self.horizon_minutes is None else ds - timedelta(minutes=self.horizon_minutes)
        )
        return Session(
            bid_open, ds - timedelta(minutes=self.gate_closure_minutes), ds, ds + self._slot
        )

    def session_for(self, start: datetime, end: datetime) -> Session | None:
        """The slot delivering exactly ``[start, end)``, or None."""
        if end - start != self._slot or self.slot_start(start) != start:
            return None
        return self.session(start)

    def open_at(self, t: datetime, limit: int | None = None) -> list[Session]:
        """Slots accepting bids at ``t`` (``t + gate < start <= t + horizon``), earliest
        first, at most ``limit`` of them (at most 8 when there is no horizon)."""
        if limit is None and self.horizon_minutes is None:
            limit = 8
        first = self.slot_start(_aware(t) + timedelta(minutes=self.gate_closure_minutes))
        first += self._slot
        out: list[Session] = []
        s = self.session(first)
        while s.is_open(t) and (limit is None or len(out) < limit):
            out.append(s)
            s = self.session(s.delivery_end)
        return out

    def next_open(self, t: datetime) -> Session | None:
        """The next slot whose bidding opens after ``t`` (None without a horizon: every
        future slot is open already)."""
        if self.horizon_minutes is None:
            return None
        start = self.slot_start(_aware(t) + timedelta(minutes=self.horizon_minutes))
        s = self.session(start)
        return s if s.bid_open > t else self.session(start + self._slot)

    def delivering_at(self, t: datetime) -> Session | None:
        """The slot being delivered at ``t``."""
        return self.session(self.slot_start(t))

    def status(self, t: datetime) -> CalendarStatus:
        """Open (first 8) / next / delivering at ``t``."""
        return CalendarStatus(
            t, tuple(self.open_at(t, limit=8)), self.next_open(t), self.delivering_at(t)
        )

    def describe(self) -> str:
        """The slots in words."""
        gate = (
            "until a slot starts"
            if self.gate_closure_minutes == 0
            else f"until {self.gate_closure_minutes} min before a slot starts"
        )
        return f"Continuous: {self.slot_minutes}-minute delivery slots, bids {gate}."

    def to_dict(self) -> dict[str, Any]:
        """TOML-ready dict."""
        return {
            "kind": "continuous",
            "timezone": self.timezone,
            "slot_minutes": self.slot_minutes,
            "gate_closure_minutes": self.gate_closure_minutes,
            "horizon_minutes": self.horizon_minutes,
        }


@dataclass(frozen=True)
class OpenCalendar:
    """Any delivery window, bids any time before it starts (the contract's ``open`` mode,
    for tests and trials). For display it lists the next whole hours.

    Attributes:
        timezone: IANA zone or fixed offset (display only).
    """

    timezone: str = "UTC"

    def __post_init__(self) -> None:
        zone(self.timezone)

    def session_for(self, start: datetime, end: datetime) -> Session | None:
        """Any window is a session: bids until it starts."""
        return Session(_EPOCH, start, start, end) if start < end else None

    def _hour(self, start: datetime) -> Session:
        return Session(_EPOCH, start, start, start + timedelta(hours=1))

    def open_at(self, t: datetime, limit: int = 4) -> list[Session]:
        """The next ``limit`` whole UTC hours (any window is open; these are suggestions)."""
        first = _aware(t).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return [self._hour(first + timedelta(hours=k)) for k in range(limit)]

    def next_open(self, t: datetime) -> Session | None:
        """None: every future window is open already."""
        return None

    def delivering_at(self, t: datetime) -> Session | None:
        """None: an open market has no fixed delivery windows."""
        return None

    def status(self, t: datetime) -> CalendarStatus:
        """The next hours as open sessions."""
        return CalendarStatus(t, tuple(self.open_at(t)), None, None)

    def describe(self) -> str:
        """The market in words."""
        return "Open market: any delivery window, bids until it starts."

    def to_dict(self) -> dict[str, Any]:
        """TOML-ready dict."""
        return {"kind": "open", "timezone": self.timezone}


def thesis_default(timezone: str = "UTC") -> WindowCalendar:
    """The thesis schedule (two sessions a day) in ``timezone``."""
    return WindowCalendar(
        (
            SessionSpec(time(10, 30), time(13, 0), time(13, 0), time(14, 0)),
            SessionSpec(time(14, 0), time(16, 30), time(16, 30), time(17, 30)),
        ),
        timezone,
    )


def calendar_from_dict(d: Mapping[str, Any]) -> WindowCalendar | ContinuousCalendar:
    """Build a calendar from a config dict (``kind`` = ``windows`` | ``continuous`` |
    ``thesis``). Raises ValueError naming the bad field."""
    kind = d.get("kind", "windows")
    tz = d.get("timezone", "UTC")
    if not isinstance(tz, str):
        raise ValueError(f"timezone: expected a zone name, got {tz!r}")
    if kind == "thesis":
        return thesis_default(tz)
    if kind == "continuous":
        known = {"kind", "timezone", "slot_minutes", "gate_closure_minutes", "horizon_minutes"}
        extra = set(d) - known
        if extra:
            raise ValueError(f"unknown continuous calendar fields: {sorted(extra)}")
        ints: dict[str, int] = {}
        for k in ("slot_minutes", "gate_closure_minutes", "horizon_minutes"):
            if k in d:
                v = d[k]
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ValueError(f"{k}: expected an integer number of minutes, got {v!r}")
                ints[k] = v
        return ContinuousCalendar(timezone=tz, **ints)
    if kind == "windows":
        sessions = d.get("sessions")
        if not isinstance(sessions, list) or not sessions:
            raise ValueError("sessions: expected a non-empty list of session tables")
        specs = []
        for i, s in enumerate(sessions):
            if not isinstance(s, Mapping):
                raise ValueError(f"sessions[{i}]: expected a table, got {s!r}")
            try:
                specs.append(
                    SessionSpec(
                        *(
                            _hhmm(s[f], f"sessions[{i}].{f}")
                            for f in ("bid_open", "bid_close", "delivery_start", "delivery_end")
                        )
                    )
                )
            except KeyError as exc:
                raise ValueError(f"sessions[{i}]: missing {exc}") from None
        return WindowCalendar(tuple(specs), tz)
    raise ValueError(f"kind: expected 'windows', 'continuous' or 'thesis', got {kind!r}")
