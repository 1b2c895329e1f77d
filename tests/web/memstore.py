"""A small in-memory Store for web tests that need exact, hand-made data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from gridpeer.store.base import Bucket, Resolution, Sample

_STEP = {Resolution.MIN1: 60, Resolution.MIN15: 900, Resolution.DAY: 86400}


def _mean(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


class MemStore:
    """Implements gridpeer.store.base.Store over a dict; energy = mean P × bucket length."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, datetime], Sample] = {}

    def write(self, samples: Iterable[Sample]) -> int:
        n = 0
        for s in samples:
            key = (s.house, s.device, s.ts)
            if key not in self.rows:
                self.rows[key] = s
                n += 1
        return n

    def latest(self, house: str | None = None) -> Sequence[Sample]:
        best: dict[tuple[str, str], Sample] = {}
        for s in self.rows.values():
            if house is not None and s.house != house:
                continue
            k = (s.house, s.device)
            if k not in best or s.ts > best[k].ts:
                best[k] = s
        return sorted(best.values(), key=lambda s: (s.house, s.device))

    def history(
        self,
        house: str,
        device: str,
        start: datetime,
        end: datetime,
        resolution: Resolution = Resolution.RAW,
    ) -> Sequence[Bucket]:
        rows = sorted(
            (
                s
                for s in self.rows.values()
                if s.house == house and s.device == device and start <= s.ts < end
            ),
            key=lambda s: s.ts,
        )
        if resolution is Resolution.RAW:
            return [
                Bucket(s.house, s.device, s.ts, 1, s.v, s.i, s.p, s.soc, 0.0, s.p_grid)
                for s in rows
            ]
        step = _STEP[resolution]
        groups: dict[datetime, list[Sample]] = {}
        for s in rows:
            sec = int(s.ts.timestamp()) // step * step
            groups.setdefault(s.ts - timedelta(seconds=s.ts.timestamp() - sec), []).append(s)
        out = []
        for t, g in sorted(groups.items()):
            p = _mean([s.p for s in g])
            out.append(
                Bucket(
                    house,
                    device,
                    t,
                    len(g),
                    _mean([s.v for s in g]),
                    _mean([s.i for s in g]),
                    p,
                    _mean([s.soc for s in g]),
                    (p or 0.0) * step / 3600.0,
                    _mean([s.p_grid for s in g]),
                )
            )
        return out

    def count(self, house: str | None = None, device: str | None = None) -> int:
        return sum(
            1
            for s in self.rows.values()
            if (house is None or s.house == house) and (device is None or s.device == device)
        )

    def houses(self) -> Sequence[str]:
        return sorted({s.house for s in self.rows.values()})

    def apply_retention(self, older_than: datetime) -> int:
        old = [k for k in self.rows if k[2] < older_than]
        for k in old:
            del self.rows[k]
        return len(old)

    def close(self) -> None:
        pass
