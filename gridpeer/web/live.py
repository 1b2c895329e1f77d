"""Live community view: pure functions from store rows to the API's shapes, plus a cache.

The cache recomputes the overview at most every ``refresh_s`` wall seconds, so the
read endpoints and the live stream cost one dictionary lookup per request however
many browsers watch. While the background refresh runs, other read responses (a day of
history) are memoised per refresh too (:meth:`LiveCache.memo`): at most ``refresh_s``
old, like the overview.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from gridpeer.core.clock import Clock
from gridpeer.store.base import Bucket, Resolution, Sample, Store, StoreUnavailable
from gridpeer.web.encoded import Encoded
from gridpeer.web.models import (
    CommunityTotals,
    FlowPoint,
    Flows,
    HouseInfo,
    HouseNow,
    Overview,
)
from gridpeer.web.summary import summarize
from gridpeer.web.today import TodayEnergy, TodayEnergyTracker, energy_of

log = logging.getLogger(__name__)

_HOUR_S = 3600.0
_BUCKET_S = {Resolution.MIN1: 60.0, Resolution.MIN15: 900.0, Resolution.DAY: 86400.0}


def day_bounds(day: date, tz: tzinfo = UTC) -> tuple[datetime, datetime]:
    """``[00:00, 24:00)`` of ``day`` in the community's time zone ``tz`` (23 or 25 hours
    long on a daylight-saving switch)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def local_day(moment: datetime, tz: tzinfo = UTC) -> date:
    """The calendar day of ``moment`` in ``tz``."""
    return moment.astimezone(tz).date()


def zone_label(tz: tzinfo, at: datetime) -> str:
    """A short name for ``tz``: its IANA key (``America/Santiago``), else ``UTC±HH:MM``."""
    key = getattr(tz, "key", None)
    if isinstance(key, str):
        return key
    offset = at.astimezone(tz).utcoffset() or timedelta(0)
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local_days(
    buckets: Sequence[Bucket], tz: tzinfo, resolution: Resolution, now: datetime
) -> list[Bucket]:
    """Sum sub-day buckets into one bucket per local day of ``tz`` (starting at local
    midnight): readings ``n`` added, means weighted by ``n``, energy added up to ``now``.
    For monthly history in a community whose days are not UTC days."""
    groups: dict[date, list[Bucket]] = {}
    for b in buckets:
        groups.setdefault(local_day(b.start, tz), []).append(b)
    out = []
    for day, group in sorted(groups.items()):
        n = sum(b.n for b in group)

        def mean(attr: str, group: list[Bucket] = group) -> float | None:
            pairs = [(getattr(b, attr), b.n) for b in group if getattr(b, attr) is not None]
            weight = sum(w for _, w in pairs)
            return sum(v * w for v, w in pairs) / weight if pairs and weight else None

        first = group[0]
        out.append(
            Bucket(
                house=first.house,
                device=first.device,
                start=day_bounds(day, tz)[0],
                n=n,
                v=mean("v"),
                i=mean("i"),
                p=mean("p"),
                soc=mean("soc"),
                energy_wh=sum(bucket_energy_wh(b, resolution, now) for b in group),
                p_grid=mean("p_grid"),
            )
        )
    return out


def bucket_hours(start: datetime, resolution: Resolution, now: datetime) -> float:
    """Hours of ``[start, start + resolution)`` already elapsed at ``now`` (0..length).

    The store's ``energy_wh`` is mean P × the full bucket length; for the bucket in
    progress, energy so far is mean P × this."""
    length = _BUCKET_S[resolution]
    return max(0.0, min(length, (now - start).total_seconds())) / _HOUR_S


def bucket_energy_wh(b: Bucket, resolution: Resolution, now: datetime) -> float:
    """Energy of a bucket up to ``now``, Wh (mean P × elapsed hours)."""
    return (b.p or 0.0) * bucket_hours(b.start, resolution, now)


def house_row(info: HouseInfo, latest: Iterable[Sample], energy: TodayEnergy) -> HouseNow:
    """A house's row: its latest samples (per device) and its energy since midnight (Wh).

    Built with ``model_construct`` (no validation: every value comes from the store as a
    float or None), a tenth of the cost, which counts at 1,000 houses per refresh."""
    f: dict[str, Any] = {
        "today_load_wh": energy.load_wh,
        "today_pv_wh": energy.pv_wh,
        "today_import_wh": energy.import_wh,
        "today_export_wh": energy.export_wh,
    }
    newest: datetime | None = None
    for s in latest:
        newest = s.ts if newest is None or s.ts > newest else newest
        if s.device == "meter":
            f.update(load_w=s.p, meter_v=s.v, meter_i=s.i, grid_w=s.p_grid)
        elif s.device == "pv":
            f.update(pv_w=s.p, pv_v=s.v, pv_i=s.i)
        elif s.device == "bess":
            f.update(bess_w=s.p, bess_v=s.v, soc=s.soc)
        elif s.device == "ev":
            f.update(ev_w=s.p, ev_soc=s.soc)
    row = HouseNow.model_construct(id=info.id, name=info.name, kind=info.kind, ts=newest, **f)
    return row


def house_now(
    info: HouseInfo,
    latest: Iterable[Sample],
    today: dict[str, Sequence[Bucket]],
    now: datetime,
) -> HouseNow:
    """Combine a house's latest samples (per device) and today's 15-min buckets up to ``now``.

    ``today`` maps device (``meter``/``pv``/``bess``) to its buckets since midnight.
    Import/export energy is split per bucket from the mean net grid power (W → Wh).
    """
    energy = TodayEnergy()
    for device, buckets in today.items():
        energy = energy + energy_of(device, buckets, now)
    return house_row(info, latest, energy)


def totals(houses: Sequence[HouseNow]) -> CommunityTotals:
    """Community sums (W now, Wh today) and today's self-sufficiency (0..1)."""
    load_wh = sum(h.today_load_wh for h in houses)
    import_wh = sum(h.today_import_wh for h in houses)
    return CommunityTotals(
        load_w=sum(h.load_w or 0.0 for h in houses),
        pv_w=sum(h.pv_w or 0.0 for h in houses),
        bess_w=sum(h.bess_w or 0.0 for h in houses),
        grid_w=sum(h.grid_w or 0.0 for h in houses),
        today_load_wh=load_wh,
        today_pv_wh=sum(h.today_pv_wh for h in houses),
        today_import_wh=import_wh,
        today_export_wh=sum(h.today_export_wh for h in houses),
        self_sufficiency=max(0.0, min(1.0, 1.0 - import_wh / load_wh)) if load_wh > 0 else 0.0,
    )


def flows(
    day: date,
    per_house: Iterable[Mapping[str, Sequence[Bucket]]],
    resolution: Resolution,
    tz: tzinfo = UTC,
) -> Flows:
    """Sum houses' bucket means into community flows (W) per bucket start (given in ``tz``).

    Each element of ``per_house`` maps device to its buckets for ``day``.
    """
    acc: dict[datetime, list[float]] = {}
    for devices in per_house:
        for device, buckets in devices.items():
            for b in buckets:
                row = acc.setdefault(b.start, [0.0, 0.0, 0.0, 0.0, 0.0])
                p = b.p or 0.0
                if device == "meter":
                    row[0] += p
                    g = b.p_grid or 0.0
                    row[3 if g >= 0 else 4] += abs(g)
                elif device == "pv":
                    row[1] += p
                elif device == "bess":
                    row[2] += p
    points = [
        FlowPoint(
            start=t.astimezone(tz),
            load_w=r[0],
            pv_w=r[1],
            bess_w=r[2],
            import_w=r[3],
            export_w=r[4],
        )
        for t, r in sorted(acc.items())
    ]
    return Flows(date=day.isoformat(), resolution=resolution.value, points=points)


def devices_of(info: HouseInfo) -> tuple[str, ...]:
    """Measured devices of a house, by kind (and its EV charger, if any)."""
    ev: tuple[str, ...] = ("ev",) if info.ev_kwh > 0 else ()
    if info.kind == "pv_bess":
        return ("meter", "pv", "bess", *ev)
    if info.kind == "pv":
        return ("meter", "pv", *ev)
    return ("meter", *ev)


def _summary_bodies(overview: Overview) -> tuple[Encoded, Encoded]:
    """The community summary: with rankings, and without (private communities)."""
    full = summarize(overview)
    private = full.model_copy(
        update={"top_exporters": [], "top_importers": [], "top_pv": [], "lowest_load": []}
    )
    return Encoded.of(full.model_dump_json()), Encoded.of(private.model_dump_json())


@dataclass(frozen=True)
class Rendered:
    """One refresh's answers, encoded once (:class:`~gridpeer.web.encoded.Encoded`):
    the overview (also as text, for the live stream), each house's row (as a body and as
    text), the summary; and the parts to compose an overview that hides some houses'
    readings (a private community) by joining strings instead of serialising 1,000 rows:
    ``head`` (the overview up to its ``houses`` array), ``order`` (the rows' house ids)
    and ``stubs`` (each house's row with its readings null)."""

    overview_json: str
    overview: Encoded
    houses: dict[str, Encoded]
    texts: dict[str, str]
    summary: Encoded
    summary_private: Encoded
    head: str
    order: tuple[str, ...]
    stubs: Mapping[str, str]

    @classmethod
    def of(cls, overview: Overview, stubs: Mapping[str, str]) -> Rendered:
        text = overview.model_dump_json()
        texts = {h.id: h.model_dump_json() for h in overview.houses}
        empty = overview.model_copy(update={"houses": []}).model_dump_json()
        assert empty.endswith('"houses":[]}'), "houses must be the overview's last field"
        return cls(
            overview_json=text,
            overview=Encoded.of(text),
            houses={h: Encoded.of(t) for h, t in texts.items()},
            texts=texts,
            summary=(summaries := _summary_bodies(overview))[0],
            summary_private=summaries[1],
            head=empty[: -len("]}")],
            order=tuple(texts),
            stubs=stubs,
        )

    def compose(
        self, allowed: frozenset[str] | None, house: str | None = None, rows: str = "all"
    ) -> str:
        """The overview JSON with the readings of houses outside ``allowed`` (None: all
        allowed) null; only ``house``'s row if given, no rows with ``rows="none"``."""
        if rows == "none":
            ids: Iterable[str] = ()
        elif house is not None:
            ids = (house,) if house in self.texts else ()
        else:
            ids = self.order
        parts = [self.texts[h] if allowed is None or h in allowed else self.stubs[h] for h in ids]
        return self.head + ",".join(parts) + "]}"

    @functools.cached_property
    def anonymous(self) -> Encoded:
        """The overview for a visitor of a private community (every house's readings
        null but the totals), encoded when first asked for in this refresh."""
        return Encoded.of(self.compose(frozenset()))


class LiveCache:
    """The overview, recomputed from the store every ``refresh_s`` wall seconds; "today"
    is the calendar day in the community's time zone ``tz``.

    ``version`` increases on each refresh; ``changed`` is set then (for the live stream).

    Each refresh makes two store queries whatever the number of houses: the latest values
    and the day's changed buckets (:class:`~gridpeer.web.today.TodayEnergyTracker`, one
    ``history_all`` over the last half hour, the rest of the day kept as sums).
    ``queries`` counts the store calls of all refreshes so far.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        houses: Sequence[HouseInfo],
        community: str,
        refresh_s: float = 1.0,
        tz: tzinfo = UTC,
    ) -> None:
        self.store, self.clock, self.houses = store, clock, list(houses)
        self.community, self.refresh_s, self.tz = community, refresh_s, tz
        self.version = 0
        recheck = max(timedelta(minutes=5), timedelta(seconds=20 * clock.speed))
        self.today = TodayEnergyTracker(store, tz, recheck)
        self.queries = 0
        self.stub_rows = {h.id: HouseNow(id=h.id, name=h.name, kind=h.kind) for h in houses}
        self.stubs = {h: row.model_dump_json() for h, row in self.stub_rows.items()}
        self.overview = self.compute()
        self.rendered = Rendered.of(self.overview, self.stubs)
        self.running = False
        self.store_down = False  # the last refresh found the store unavailable
        self._memo: dict[tuple[object, ...], Encoded] = {}
        self._changed = asyncio.Condition()

    def compute(self) -> Overview:
        """Read the store (two queries) and build the overview (synchronous)."""
        now = self.clock.now().astimezone(self.tz)
        latest = self._latest()
        energy = self.today.update(now)
        self.queries += 1
        none = TodayEnergy()
        rows = [
            house_row(info, latest.get(info.id, ()), energy.get(info.id, none))
            for info in self.houses
        ]
        return self._overview(now, rows)

    def compute_per_house(self) -> Overview:
        """The overview the way it was built before ``history_all``: one ``history`` query
        per house and device (1 + Σ devices queries). Same result as :meth:`compute`; kept
        for the benchmark's before/after comparison."""
        now = self.clock.now().astimezone(self.tz)
        start, _ = day_bounds(now.date(), self.tz)
        latest = self._latest()
        rows = []
        for info in self.houses:
            today = {
                d: self.store.history(info.id, d, start, now, Resolution.MIN15)
                for d in devices_of(info)
            }
            self.queries += len(today)
            rows.append(house_now(info, latest.get(info.id, ()), today, now))
        return self._overview(now, rows)

    def _latest(self) -> dict[str, list[Sample]]:
        latest: dict[str, list[Sample]] = {}
        for s in self.store.latest():
            latest.setdefault(s.house, []).append(s)
        self.queries += 1
        return latest

    def _overview(self, now: datetime, rows: list[HouseNow]) -> Overview:
        return Overview(
            community=self.community,
            now=now,
            tz=zone_label(self.tz, now),
            speed=self.clock.speed,
            totals=totals(rows),
            houses=rows,
        )

    def refresh(self) -> None:
        """Recompute now (logs and keeps the old view if the store fails)."""
        try:
            overview = self.compute()
        except StoreUnavailable as exc:  # an outage: say so once, keep the last good view
            if not self.store_down:
                log.warning("live view: %s; keeping the last view until it is back", exc)
            self.store_down = True
            return
        except Exception:  # keep serving the last good view
            log.exception("live view refresh failed")
            return
        if self.store_down:
            log.info("live view: the store is back")
            self.store_down = False
        rendered = Rendered.of(overview, self.stubs)  # requests use the last one meanwhile
        self.overview, self.rendered = overview, rendered
        self._memo = {}
        self.version += 1

    @property
    def overview_json(self) -> str:
        """The overview as JSON text (the live stream's event data)."""
        return self.rendered.overview_json

    def memo(self) -> dict[tuple[object, ...], Encoded] | None:
        """Response bodies computed since the last refresh, by request key; None (do not
        memoise) when the background refresh is not running, since nothing would
        invalidate them. Take it before computing, store into the same dict."""
        return self._memo if self.running else None

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh every ``refresh_s`` wall seconds until ``stop`` is set."""
        self.running = True
        try:
            while not stop.is_set():
                await asyncio.to_thread(self.refresh)  # keep the event loop free for requests
                async with self._changed:
                    self._changed.notify_all()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.refresh_s)
        finally:
            self.running = False
            self._memo = {}
        async with self._changed:
            self._changed.notify_all()

    async def wait_newer(self, version: int, timeout: float) -> int:
        """Wait until a refresh newer than ``version`` (or ``timeout`` s); return the version."""
        if self.version > version:
            return self.version
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
        return self.version
