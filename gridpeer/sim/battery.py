"""Self-consumption battery dispatch for one slot, vectorized over houses.

A battery charges from the house's own surplus and discharges to cover its own
deficit, within its power limit, capacity and a reserve SoC (see
:func:`gridpeer.hems.strategy.reserve_soc`). Flows are integer Wh at the terminals;
stored energy is float Wh. One-way efficiency ``eta`` applies on both charge and
discharge (round trip ``eta**2``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ETA = 0.95
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def dispatch(
    net_wh: npt.NDArray[np.integer],
    stored_wh: F64,
    capacity_wh: F64,
    max_wh: F64,
    reserve: float | F64,
    eta: float = ETA,
) -> tuple[I64, I64, F64]:
    """Battery flows of one slot.

    Args:
        net_wh: PV minus load of the slot per house, Wh (positive = surplus).
        stored_wh: energy stored at the slot start, Wh.
        capacity_wh: usable capacity, Wh (0 = no battery).
        max_wh: energy the power limit allows in one slot, Wh (power W x slot h).
        reserve: SoC not discharged below, 0..1 (scalar or per house).
        eta: one-way efficiency, 0..1.

    Returns:
        ``(charge_wh, discharge_wh, stored_after_wh)``; charge and discharge are
        integer Wh >= 0 and never both > 0 for a house.
    """
    net = net_wh.astype(np.float64)
    room = np.clip((capacity_wh - stored_wh) / eta, 0.0, None)
    charge = np.floor(np.minimum(np.minimum(np.clip(net, 0.0, None), max_wh), room))
    avail = np.clip(stored_wh - capacity_wh * reserve, 0.0, None) * eta
    discharge = np.floor(np.minimum(np.minimum(np.clip(-net, 0.0, None), max_wh), avail))
    after = stored_wh + charge * eta - discharge / eta
    return charge.astype(np.int64), discharge.astype(np.int64), after
