"""A house's simulated physical trace: what its devices do, step by step.

Produced by the device models (PV, battery dispatch, load) and consumed by the
simulated sensor nodes (telemetry), the home agents and the community simulator.
Arrays are 1-D and of equal length, one value per step of ``step_s`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class HouseTrace:
    """Power flows of one house (all powers in W, averaged over each step).

    Attributes:
        house: house id (e.g. ``"h1"``).
        start: UTC time of the first step.
        step_s: step length in seconds.
        load_w: household consumption, W (>= 0).
        pv_w: PV production, W (>= 0); zeros for a consumer.
        pv_v: PV string voltage, V.
        pv_i: PV string current, A.
        bess_w: battery power, W, positive = discharge, negative = charge.
        bess_v: battery terminal voltage, V.
        soc: battery state of charge at the end of each step, 0..1.
        grid_w: net grid power, W, positive = import, negative = export.
        mains_v: mains voltage at the meter, V.
    """

    house: str
    start: datetime
    step_s: int
    load_w: FloatArray
    pv_w: FloatArray
    pv_v: FloatArray
    pv_i: FloatArray
    bess_w: FloatArray
    bess_v: FloatArray
    soc: FloatArray
    grid_w: FloatArray
    mains_v: FloatArray

    def __len__(self) -> int:
        return int(self.load_w.shape[0])
