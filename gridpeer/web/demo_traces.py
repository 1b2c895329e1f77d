"""Stand-in house traces for the demo until the devices/profiles lab preset is wired in.

A clear-sky bell for PV, a load with morning and evening peaks, and a greedy
self-consumption battery. Deterministic per house index. Powers W, energy Wh, SoC 0..1.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from gridpeer.devices.trace import HouseTrace
from gridpeer.web.models import HouseInfo, HouseKind

_LAB_KINDS = (
    HouseKind.PV_BESS,
    HouseKind.PV_BESS,
    HouseKind.PV,
    HouseKind.CONSUMER,
    HouseKind.CONSUMER,
)


def lab_houses(n: int) -> list[HouseInfo]:
    """``n`` houses in the thesis lab's mix (2 PV + battery, 1 PV, 2 consumers), repeated."""
    out = []
    for k in range(n):
        kind = _LAB_KINDS[k % len(_LAB_KINDS)]
        pv = {HouseKind.PV_BESS: 3.0, HouseKind.PV: 2.5, HouseKind.CONSUMER: 0.0}[kind]
        bess = 5.0 if kind is HouseKind.PV_BESS else 0.0
        out.append(
            HouseInfo(id=f"h{k + 1}", name=f"House {k + 1}", kind=kind, pv_kwp=pv, bess_kwh=bess)
        )
    return out


def synthetic_trace(
    info: HouseInfo, index: int, day_start: datetime, step_s: int = 60, solar_noon_h: float = 12.0
) -> HouseTrace:
    """One day of ``info``'s power flows from ``day_start`` (UTC midnight) in ``step_s`` steps."""
    n = 86400 // step_s
    rng = np.random.default_rng(1000 + index)
    hours = np.arange(n) * step_s / 3600.0
    bell = np.clip(np.cos((hours - solar_noon_h) / 6.5 * np.pi / 2), 0.0, None) ** 1.5
    clouds = 1.0 - 0.25 * np.clip(np.sin(hours * 2.1 + index) * rng.random(n), 0.0, None)
    pv = info.pv_kwp * 1000.0 * 0.82 * bell * clouds
    base = 180.0 + 40.0 * index % 90
    peaks = 900.0 * np.exp(-(((hours - 7.5) / 1.0) ** 2)) + 1300.0 * np.exp(
        -(((hours - 19.5) / 1.6) ** 2)
    )
    load = base + peaks * (0.7 + 0.3 * ((index * 37) % 10) / 10) + rng.gamma(1.5, 60.0, n)
    cap_wh = info.bess_kwh * 1000.0
    soc = np.zeros(n)
    bess = np.zeros(n)
    level = 0.35 * cap_wh
    limit = cap_wh / 2.0
    for k in range(n):
        if cap_wh > 0:
            net = load[k] - pv[k]  # > 0: deficit, discharge
            room = (
                (level - 0.1 * cap_wh) * 3600.0 / step_s
                if net > 0
                else ((0.95 * cap_wh - level) * 3600.0 / step_s / 0.95)
            )
            p = float(np.clip(net, -min(limit, room), min(limit, room)))
            level -= p * step_s / 3600.0 * (1.0 if p > 0 else 0.95)
            bess[k] = p
            soc[k] = level / cap_wh
    grid = load - pv - bess
    pv_v = np.where(pv > 1.0, 300.0 + 40.0 * bell, 0.0)
    return HouseTrace(
        house=info.id,
        start=day_start,
        step_s=step_s,
        load_w=load,
        pv_w=pv,
        pv_v=pv_v,
        pv_i=np.divide(pv, pv_v, out=np.zeros(n), where=pv_v > 0),
        bess_w=bess,
        bess_v=48.0 + 6.0 * soc - bess / 2000.0 if cap_wh > 0 else np.zeros(n),
        soc=soc,
        grid_w=grid,
        mains_v=230.0 + 2.0 * np.sin(hours * 0.7 + index),
    )
