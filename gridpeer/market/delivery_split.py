"""How one relay's metered energy is split among the trades it serves (pure).

A house has one relay per direction. Every trade of that direction whose window is open
is served at once, and the relay's metered energy is shared among them **pro rata to
their contracted Wh**, each capped at what it still lacks (what a full trade cannot take
goes to the others, in the same proportions). Trades of one window therefore fill up
together and each gets ``metered × contracted / total contracted``. When trades finish
together their Wh are rounded down to whole Wh as a group: the group keeps the whole
Wh of its summed energy, the remainders going to the largest fractions (ties: lowest
trade id). See docs/delivery.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_EPS = 1e-9


def share_energy(
    energy_wh: float, contracted_wh: Sequence[float], measured_wh: Sequence[float]
) -> list[float]:
    """Split ``energy_wh`` (>= 0) among trades pro rata to ``contracted_wh``, each capped at
    ``contracted - measured``; returns each trade's part, Wh (sum = min(energy, room))."""
    n = len(contracted_wh)
    if len(measured_wh) != n:
        raise ValueError("contracted and measured lengths differ")
    room = [max(0.0, float(c) - float(m)) for c, m in zip(contracted_wh, measured_wh, strict=True)]
    alloc = [0.0] * n
    left = max(0.0, float(energy_wh))
    open_ = [i for i in range(n) if room[i] > _EPS]
    while left > _EPS and open_:
        weights = [max(float(contracted_wh[i]), _EPS) for i in open_]
        total_w = sum(weights)
        given = 0.0
        for i, w in zip(open_, weights, strict=True):
            take = min(left * w / total_w, room[i] - alloc[i])
            alloc[i] += take
            given += take
        left -= given
        open_ = [i for i in open_ if room[i] - alloc[i] > _EPS]
        if given <= _EPS:
            break
    return alloc


def round_group(values_wh: Sequence[float], ids: Sequence[int] | None = None) -> list[int]:
    """Whole Wh per trade, summing to the whole Wh of the total (largest remainder; ties
    to the lowest id). Each result is ``floor(v)`` or ``ceil(v)`` of its value (>= 0)."""
    vals = [max(0.0, float(v)) for v in values_wh]
    keys = list(ids) if ids is not None else list(range(len(vals)))
    total = math.floor(sum(vals) + 1e-6)
    out = [math.floor(v + 1e-9) for v in vals]
    extra = total - sum(out)
    order = sorted(range(len(vals)), key=lambda i: (-(vals[i] - out[i]), keys[i]))
    for i in order[: max(0, extra)]:
        out[i] += 1
    return out


def split_wh(metered_wh: int, contracted_wh: Sequence[int]) -> list[int]:
    """The rule for one window's trades: ``metered_wh`` (>= 0) shared pro rata to the
    contracted Wh, whole Wh, none above its contract, summing to
    ``min(metered_wh, sum(contracted_wh))``."""
    parts = share_energy(
        float(metered_wh), [float(c) for c in contracted_wh], [0.0] * len(contracted_wh)
    )
    return round_group(parts)
