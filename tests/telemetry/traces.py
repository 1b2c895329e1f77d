"""HouseTraces built directly with numpy for the telemetry / hems tests."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from gridpeer.devices.trace import HouseTrace


def make_trace(
    house: str,
    start: datetime,
    steps: int = 60,
    step_s: int = 60,
    *,
    pv: bool = True,
    bess: bool = True,
    seed: int = 0,
) -> HouseTrace:
    """A plausible house: load 200–2,000 W, PV 0–3,000 W at ~300 V, a 48 V battery."""
    rng = np.random.default_rng(seed)
    load = rng.uniform(200.0, 2000.0, steps)
    pv_w = rng.uniform(0.0, 3000.0, steps) if pv else np.zeros(steps)
    pv_v = np.where(pv_w > 0, 300.0, 0.0) if pv else np.zeros(steps)
    pv_i = np.divide(pv_w, pv_v, out=np.zeros(steps), where=pv_v > 0)
    bess_w = rng.uniform(-1500.0, 1500.0, steps) if bess else np.zeros(steps)
    bess_v = np.full(steps, 51.2) if bess else np.zeros(steps)
    soc = rng.uniform(0.1, 0.9, steps) if bess else np.zeros(steps)
    grid = load - pv_w - bess_w
    return HouseTrace(
        house,
        start,
        step_s,
        load,
        pv_w,
        pv_v,
        pv_i,
        bess_w,
        bess_v,
        soc,
        grid,
        np.full(steps, 230.0),
    )
