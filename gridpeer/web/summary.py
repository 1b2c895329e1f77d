"""The community summarized (pure): distribution of net grid power, top and bottom houses,
and server-side search and paging of the houses list. Sizes do not grow with the
community, so the overview stays usable at 1,000 houses and more."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gridpeer.web.models import (
    CommunitySummary,
    DistributionBin,
    HouseNow,
    HousePage,
    HouseRank,
    Overview,
)

GRID_BINS_W: tuple[tuple[str, float | None, float | None], ...] = (
    ("exporting > 3 kW", None, -3000.0),
    ("exporting 1–3 kW", -3000.0, -1000.0),
    ("exporting < 1 kW", -1000.0, -1.0),
    ("balanced", -1.0, 1.0),
    ("importing < 1 kW", 1.0, 1000.0),
    ("importing 1–3 kW", 1000.0, 3000.0),
    ("importing > 3 kW", 3000.0, None),
)
"""Bins of a house's net grid power now, W (+ import): label, [lo, hi)."""

SORTS: dict[str, Callable[[HouseNow], tuple[float, str]]] = {
    "id": lambda h: (0.0, h.id),
    "name": lambda h: (0.0, h.name.lower()),
    "export": lambda h: (-h.today_export_wh, h.id),
    "import": lambda h: (-h.today_import_wh, h.id),
    "pv": lambda h: (-h.today_pv_wh, h.id),
    "load": lambda h: (-h.today_load_wh, h.id),
}
"""Orders of the houses list: by id/name, or by today's energy (largest first)."""


def _natural(house_id: str) -> tuple[str, int, str]:
    """``h2`` before ``h10``."""
    head = house_id.rstrip("0123456789")
    tail = house_id[len(head) :]
    return (head, int(tail) if tail else -1, house_id)


def grid_distribution(houses: Sequence[HouseNow]) -> list[DistributionBin]:
    """Count reporting houses per bin of net grid power now (:data:`GRID_BINS_W`)."""
    counts = [0] * len(GRID_BINS_W)
    for h in houses:
        if h.grid_w is None:
            continue
        for k, (_, lo, hi) in enumerate(GRID_BINS_W):
            if (lo is None or h.grid_w >= lo) and (hi is None or h.grid_w < hi):
                counts[k] += 1
                break
    return [
        DistributionBin(label=label, lo_w=lo, hi_w=hi, houses=n)
        for (label, lo, hi), n in zip(GRID_BINS_W, counts, strict=True)
    ]


def _rank(
    houses: Sequence[HouseNow], key: Callable[[HouseNow], float], k: int, largest: bool = True
) -> list[HouseRank]:
    pool = [h for h in houses if h.ts is not None]
    pool.sort(key=lambda h: (-key(h) if largest else key(h), _natural(h.id)))
    return [HouseRank(id=h.id, name=h.name, kind=h.kind, wh=key(h)) for h in pool[:k]]


def summarize(overview: Overview, top: int = 5, rankings: bool = True) -> CommunitySummary:
    """The community summary of ``overview``: ``top`` houses per ranking (none when
    ``rankings`` is False, e.g. in a private community)."""
    rows = overview.houses
    kinds: dict[str, int] = {}
    for h in rows:
        kinds[h.kind.value] = kinds.get(h.kind.value, 0) + 1
    k = top if rankings else 0
    return CommunitySummary(
        community=overview.community,
        now=overview.now,
        tz=overview.tz,
        speed=overview.speed,
        houses=len(rows),
        reporting=sum(1 for h in rows if h.ts is not None),
        kinds=kinds,
        totals=overview.totals,
        grid_distribution=grid_distribution(rows),
        top_exporters=_rank(rows, lambda h: h.today_export_wh, k),
        top_importers=_rank(rows, lambda h: h.today_import_wh, k),
        top_pv=_rank(rows, lambda h: h.today_pv_wh, k),
        lowest_load=_rank(rows, lambda h: h.today_load_wh, k, largest=False),
    )


def search_houses(
    houses: Sequence[HouseNow], q: str = "", limit: int = 50, offset: int = 0, sort: str = "id"
) -> HousePage:
    """Houses whose id or name contains ``q`` (case-insensitive), sorted by ``sort`` (a key
    of :data:`SORTS`; ``id`` is natural order, h2 before h10), ``limit`` from ``offset``."""
    needle = q.strip().lower()
    hits = [h for h in houses if not needle or needle in h.id.lower() or needle in h.name.lower()]
    if sort == "id":
        hits.sort(key=lambda h: _natural(h.id))
    else:
        order = SORTS[sort]
        hits.sort(key=lambda h: (order(h), _natural(h.id)))
    return HousePage(
        total=len(hits), offset=offset, limit=limit, houses=hits[offset : offset + limit]
    )
