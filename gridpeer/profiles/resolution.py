"""Change the time resolution of 1-minute power arrays (mean power is conserved)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from gridpeer.profiles.sky import BASE_STEP_S, STEPS_PER_DAY

T = TypeVar("T", bound=np.generic)


def check_step(step_s: int) -> None:
    """Raise ValueError unless ``step_s`` (s) divides a day and is a divisor or a multiple
    of 60 s."""
    if step_s <= 0 or 86_400 % step_s != 0:
        raise ValueError(f"step_s must be a positive divisor of 86400 s, got {step_s}")
    if BASE_STEP_S % step_s != 0 and step_s % BASE_STEP_S != 0:
        raise ValueError(f"step_s must divide 60 s or be a multiple of 60 s, got {step_s}")


def from_minutes(values: npt.NDArray[T], step_s: int) -> npt.NDArray[T]:
    """Mean power per step of ``step_s`` s from 1-minute powers along the last axis
    (1440 values per day); finer steps repeat each minute's value."""
    check_step(step_s)
    if values.shape[-1] % STEPS_PER_DAY != 0:
        raise ValueError("last axis must hold whole days of 1-minute values")
    if step_s >= BASE_STEP_S:
        per = step_s // BASE_STEP_S
        shaped = values.reshape(*values.shape[:-1], values.shape[-1] // per, per)
        averaged: npt.NDArray[T] = shaped.mean(axis=-1, dtype=np.float64).astype(
            values.dtype, copy=False
        )
        return averaged
    return np.repeat(values, BASE_STEP_S // step_s, axis=-1)
