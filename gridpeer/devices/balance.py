"""Energy balance of a house per step: PV + discharge + import = load + charge + export.

All quantities in Wh per step (>= 0). Use :func:`flows_wh` to turn signed powers (W)
into these six flows, and :func:`check_balance` to assert the balance holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]

DEFAULT_TOLERANCE_WH = 1.0


class EnergyBalanceError(ValueError):
    """The energy balance does not hold for some house and step."""


@dataclass(frozen=True)
class Flows:
    """The six energy flows of houses per step, Wh (>= 0), arrays of equal shape."""

    pv_wh: FloatArray
    discharge_wh: FloatArray
    import_wh: FloatArray
    load_wh: FloatArray
    charge_wh: FloatArray
    export_wh: FloatArray


def flows_wh(
    load_w: npt.ArrayLike,
    pv_w: npt.ArrayLike,
    bess_w: npt.ArrayLike,
    grid_w: npt.ArrayLike,
    step_s: float,
) -> Flows:
    """Split signed mean powers (W) over steps of ``step_s`` s into the six flows (Wh).

    ``bess_w`` positive = discharge; ``grid_w`` positive = import.
    """
    to_wh = step_s / 3600.0
    bess = np.asarray(bess_w, dtype=np.float64)
    grid = np.asarray(grid_w, dtype=np.float64)
    return Flows(
        pv_wh=np.asarray(pv_w, dtype=np.float64) * to_wh,
        discharge_wh=np.clip(bess, 0.0, None) * to_wh,
        import_wh=np.clip(grid, 0.0, None) * to_wh,
        load_wh=np.asarray(load_w, dtype=np.float64) * to_wh,
        charge_wh=np.clip(-bess, 0.0, None) * to_wh,
        export_wh=np.clip(-grid, 0.0, None) * to_wh,
    )


def balance_residual_wh(flows: Flows) -> FloatArray:
    """Sources minus sinks per house and step, Wh: ``pv + discharge + import - load -
    charge - export`` (0 when the balance holds)."""
    residual: FloatArray = (flows.pv_wh + flows.discharge_wh + flows.import_wh) - (
        flows.load_wh + flows.charge_wh + flows.export_wh
    )
    return residual


def check_balance(flows: Flows, tolerance_wh: float = DEFAULT_TOLERANCE_WH) -> None:
    """Raise :class:`EnergyBalanceError` naming the worst (house, step) if any step's
    residual exceeds ``tolerance_wh`` (Wh) or any flow is negative or not finite."""
    for name in ("pv_wh", "discharge_wh", "import_wh", "load_wh", "charge_wh", "export_wh"):
        values = np.asarray(getattr(flows, name))
        if not np.all(np.isfinite(values)):
            raise EnergyBalanceError(f"{name} has non-finite values")
        if np.any(values < 0.0):
            raise EnergyBalanceError(f"{name} has negative values (flows are >= 0 Wh)")
    residual = np.abs(balance_residual_wh(flows))
    if residual.size and float(residual.max()) > tolerance_wh:
        where = np.unravel_index(int(np.argmax(residual)), residual.shape)
        index = tuple(int(i) for i in where)
        raise EnergyBalanceError(
            f"energy balance off by {float(residual.max()):.3f} Wh at (house, step) {index}"
            f" (tolerance {tolerance_wh} Wh)"
        )
