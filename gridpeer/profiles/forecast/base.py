"""The forecaster interface: history in, forecast of the next slots out (Wh per slot)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
SLOTS_PER_DAY = 96


class Forecaster(Protocol):
    """Forecasts energy per slot for many houses at once.

    ``min_history``: slots of history the model needs (fewer: the caller falls back).
    """

    name: str
    min_history: int

    def predict(
        self,
        history: F64,
        now: int,
        horizon: int,
        clear_sky: F64 | None = None,
        origin: int = 0,
    ) -> F64:
        """Forecast slots ``now .. now + horizon - 1``.

        Args:
            history: energy per house and slot, Wh, shape ``(houses, T)``; only
                ``history[:, :now]`` is read.
            now: index of the first forecast slot (the slots before it are known).
            horizon: number of slots to forecast (1..96).
            clear_sky: clear-sky PV of the forecast slots, Wh, ``(houses, horizon)``
                (astronomy, known in advance); used by the clear-sky model only.
            origin: absolute slot number of ``history[:, 0]`` (a rolling buffer's start;
                fitted models use it to refit on schedule). ``history[:, 0]`` must be
                the first slot of a day.

        Returns:
            Forecast energy, Wh (float, >= 0), shape ``(houses, horizon)``.
        """
        ...


def check_args(history: F64, now: int, horizon: int, needed: int) -> None:
    """Raise ValueError for a horizon outside 1..96 or too little history before ``now``."""
    if not 1 <= horizon <= SLOTS_PER_DAY:
        raise ValueError(f"horizon must be 1..{SLOTS_PER_DAY} slots, got {horizon}")
    if now > history.shape[1]:
        raise ValueError(f"now ({now}) is beyond the history ({history.shape[1]} slots)")
    if now < needed:
        raise ValueError(f"needs {needed} slots of history before now, got {now}")
