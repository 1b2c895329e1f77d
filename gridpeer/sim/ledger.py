"""Running totals per house and per slot, accumulated as the simulation streams.

Energies are integer Wh; money is integer wei, rounded down per trade (the market's
and the contract's rule, ``Wh * price // 1000``) and per house and slot for the grid;
nothing per house and per slot is kept beyond the current slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

HOUSE_FIELDS = (
    "load_wh",
    "pv_wh",
    "charge_wh",
    "discharge_wh",
    "import_wh",
    "export_wh",
    "p2p_bought_wh",
    "p2p_sold_wh",
    "contracted_bought_wh",
    "contracted_sold_wh",
    "p2p_paid_wei",
    "p2p_received_wei",
    "network_fee_wei",
    "import_cost_wei",
    "export_revenue_wei",
    "base_import_wh",
    "base_export_wh",
    "base_import_cost_wei",
    "base_export_revenue_wei",
)
"""Per-house totals (all int64): Wh, or wei (``*_wei``). ``base_*`` = no P2P."""

DEVICE_FIELDS = (
    "ev_wh",
    "ev_own_wh",
    "ev_p2p_wh",
    "ev_grid_wh",
    "ev_public_wh",
    "ev_v2g_wh",
    "heat_pump_wh",
    "heat_wh",
    "heat_unmet_wh",
    "wind_wh",
    "hydro_wh",
    "battery_bought_wh",
    "battery_sold_wh",
)
"""Per-house device totals, Wh (float64; kept apart from the int64 meter totals): EV
charging at home and where it came from (own PV/battery, P2P, grid, pro rata to the
EV's share of the slot's load), driving energy charged elsewhere, V2G discharge, heat
pump electricity, heat delivered and unmet, wind and hydro generation; with MPC agents
the flexibility used on the market: battery charging beyond the house's own surplus (bought) and
discharging beyond its own deficit (sold)."""

SERIES_FIELDS = (
    "pv_wh",
    "load_wh",
    "import_wh",
    "export_wh",
    "p2p_wh",
    "charge_wh",
    "discharge_wh",
    "p2p_value_wei",
    "import_price",
    "feed_in",
    "mean_soc",
    "base_import_wh",
    "network_fee_wei",
)
"""Community series, one value per slot: Wh, wei, wei/kWh, SoC 0..1."""


@dataclass
class Ledger:
    """Accumulators for ``houses`` houses over at most ``slots`` slots."""

    houses: int
    slots: int
    house: dict[str, I64] = field(init=False)
    series: dict[str, F64] = field(init=False)
    sample_soc: F64 = field(init=False)
    devices: dict[str, F64] = field(init=False)
    slots_done: int = 0

    def __post_init__(self) -> None:
        self.house = {k: np.zeros(self.houses, dtype=np.int64) for k in HOUSE_FIELDS}
        self.series = {k: np.zeros(self.slots, dtype=np.float64) for k in SERIES_FIELDS}
        self.sample_soc = np.zeros((self.slots, 0), dtype=np.float64)
        self.devices = {k: np.zeros(self.houses, dtype=np.float64) for k in DEVICE_FIELDS}

    def add(self, name: str, values: I64) -> None:
        """Add per-house values (int64) to total ``name``."""
        self.house[name] += values

    def trimmed_series(self) -> dict[str, F64]:
        """The community series for the slots simulated so far."""
        return {k: v[: self.slots_done] for k, v in self.series.items()}
