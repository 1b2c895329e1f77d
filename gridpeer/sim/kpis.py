"""Key performance indicators of a run, per house and for the community.

All derived from the :class:`~gridpeer.sim.ledger.Ledger` totals. Bills compare the
run with a no-P2P baseline (same households, weather and battery dispatch, all
residual energy to and from the grid). Money in currency units (the scenario's
``tariff.currency``; 1 unit = ``wei_per_unit`` wei), energy in Wh, power in W,
ratios 0..1. Definitions follow :mod:`gridpeer.market.kpi` (self-sufficiency
``1 - import / load``, self-consumption ``1 - export / PV``, fairness = its Gini of
per-house savings). Percentages of a saving are taken of the no-P2P *grid import
cost* (what the houses paid the grid without P2P, always >= 0), not of the net
baseline bill, which is negative when the feed-in income exceeds the import cost and
would flip the sign of the percentage. Formatting is fixed (decimals per KPI, see
:data:`DECIMALS`) so the same run gives byte-identical CSV.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gridpeer.market.kpi import gini
from gridpeer.sim.dayprofiles import SLOT_H
from gridpeer.sim.engine import SimResult

F64 = npt.NDArray[np.float64]

HOUSE_COLUMNS = (
    "house",
    "group",
    "pv_kwp",
    "battery_wh",
    "load_wh",
    "pv_wh",
    "import_wh",
    "export_wh",
    "p2p_bought_wh",
    "p2p_sold_wh",
    "battery_charge_wh",
    "battery_discharge_wh",
    "network_fee",
    "bill",
    "baseline_bill",
    "baseline_import_cost",
    "saving",
    "bill_change_pct",
    "self_sufficiency",
    "self_consumption",
    "delivered_ratio",
)

COMMUNITY_KEYS = (
    "mechanism",
    "houses",
    "days_simulated",
    "slots_simulated",
    "interrupted",
    "load_wh",
    "pv_wh",
    "import_wh",
    "export_wh",
    "p2p_wh",
    "p2p_share",
    "self_sufficiency",
    "baseline_self_sufficiency",
    "self_consumption",
    "bill",
    "baseline_bill",
    "baseline_import_cost",
    "saving",
    "saving_pct",
    "mean_p2p_price",
    "gini_savings",
    "houses_worse_off",
    "peak_import_w",
    "baseline_peak_import_w",
    "delivered_ratio",
)
"""Community KPI names, in CSV order."""

DECIMALS = {
    "network_fee": 2,
    "pv_kwp": 2,
    "days_simulated": 2,
    "bill": 2,
    "baseline_bill": 2,
    "baseline_import_cost": 2,
    "saving": 2,
    "mean_p2p_price": 2,
    "saving_pct": 1,
    "bill_change_pct": 1,
    "peak_import_w": 0,
    "baseline_peak_import_w": 0,
}
"""Decimals printed per KPI (money 2, percent 1, W 0); other floats (ratios 0..1) 4."""
RATIO_DECIMALS = 4


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


class Kpis:
    """KPIs of one :class:`SimResult`."""

    def __init__(self, result: SimResult) -> None:
        self.result = result
        h = result.ledger.house
        self._scale = float(result.wei_per_unit)  # wei per currency unit
        bill = (
            h["import_cost_wei"]
            - h["export_revenue_wei"]
            + h["p2p_paid_wei"]
            - h["p2p_received_wei"]
            + h["network_fee_wei"]
        )
        base = h["base_import_cost_wei"] - h["base_export_revenue_wei"]
        self.bill_wei = bill
        self.base_wei = base
        self.saving = (base - bill) / self._scale
        self.bill = bill / self._scale
        self.baseline = base / self._scale
        self.base_import_cost = h["base_import_cost_wei"] / self._scale

    def house_rows(self) -> list[dict[str, object]]:
        """One dict per house, keys :data:`HOUSE_COLUMNS`."""
        r = self.result
        h = r.ledger.house
        pop = r.population
        groups = [g.name for g in r.config.scenario.households]
        rows: list[dict[str, object]] = []
        for i, hid in enumerate(pop.ids):
            load = int(h["load_wh"][i])
            pv = int(h["pv_wh"][i])
            imp = int(h["import_wh"][i])
            bought = int(h["p2p_bought_wh"][i])
            sold = int(h["p2p_sold_wh"][i])
            contracted = int(h["contracted_bought_wh"][i] + h["contracted_sold_wh"][i])
            base = float(self.baseline[i])
            rows.append(
                {
                    "house": hid,
                    "group": groups[int(pop.group[i])],
                    "pv_kwp": float(pop.pv_kwp[i]),
                    "battery_wh": int(pop.battery_wh[i]),
                    "load_wh": load,
                    "pv_wh": pv,
                    "import_wh": imp,
                    "export_wh": int(h["export_wh"][i]),
                    "p2p_bought_wh": bought,
                    "p2p_sold_wh": sold,
                    "battery_charge_wh": int(h["charge_wh"][i]),
                    "battery_discharge_wh": int(h["discharge_wh"][i]),
                    "network_fee": float(h["network_fee_wei"][i]) / self._scale,
                    "bill": float(self.bill[i]),
                    "baseline_bill": base,
                    "baseline_import_cost": float(self.base_import_cost[i]),
                    "saving": float(self.saving[i]),
                    "bill_change_pct": _ratio(
                        -100.0 * float(self.saving[i]), float(self.base_import_cost[i])
                    ),
                    "self_sufficiency": _ratio(load - imp - bought, load),
                    "self_consumption": _ratio(pv - int(h["export_wh"][i]) - sold, pv),
                    "delivered_ratio": _ratio(bought + sold, contracted),
                }
            )
        return rows

    def community(self) -> dict[str, object]:
        """Community KPIs, keys :data:`COMMUNITY_KEYS`."""
        r = self.result
        h = r.ledger.house
        s = r.ledger.trimmed_series()
        load = int(h["load_wh"].sum())
        pv = int(h["pv_wh"].sum())
        imp = int(h["import_wh"].sum())
        exp = int(h["export_wh"].sum())
        p2p = int(h["p2p_bought_wh"].sum())
        base_imp = int(h["base_import_wh"].sum())
        bill = float(self.bill_wei.sum()) / self._scale
        base = float(self.base_wei.sum()) / self._scale
        value = float(h["p2p_paid_wei"].sum()) / self._scale
        contracted = int(h["contracted_bought_wh"].sum())
        return {
            "mechanism": r.config.mechanism,
            "houses": r.population.n,
            "days_simulated": r.slots_done / 96.0,
            "slots_simulated": r.slots_done,
            "interrupted": r.interrupted,
            "load_wh": load,
            "pv_wh": pv,
            "import_wh": imp,
            "export_wh": exp,
            "p2p_wh": p2p,
            "p2p_share": _ratio(p2p, load),
            "self_sufficiency": _ratio(load - imp, load),
            "baseline_self_sufficiency": _ratio(load - base_imp, load),
            "self_consumption": _ratio(pv - exp, pv),
            "bill": bill,
            "baseline_bill": base,
            "baseline_import_cost": float(self.base_import_cost.sum()),
            "saving": base - bill,
            "saving_pct": _ratio(100.0 * (base - bill), float(self.base_import_cost.sum())),
            "mean_p2p_price": _ratio(value * 1000.0, p2p),
            "gini_savings": gini(self.saving),
            "houses_worse_off": int((self.bill_wei > self.base_wei).sum()),
            "peak_import_w": float(s["import_wh"].max(initial=0.0)) / SLOT_H,
            "baseline_peak_import_w": float(s["base_import_wh"].max(initial=0.0)) / SLOT_H,
            "delivered_ratio": _ratio(p2p, contracted),
        }


_MONEY_KEYS = frozenset({"network_fee", "bill", "baseline_bill", "baseline_import_cost", "saving"})
_UNITS = {
    "houses": "houses",
    "days_simulated": "days",
    "slots_simulated": "15-min slots",
    "houses_worse_off": "houses",
    "saving_pct": "% of baseline import cost",
    "bill_change_pct": "% of baseline import cost",
    "pv_kwp": "kWp",
    "peak_import_w": "W",
    "baseline_peak_import_w": "W",
    "interrupted": "",
    "mechanism": "",
    "house": "",
    "group": "",
}


def kpi_unit(key: str, currency: str) -> str:
    """Unit of a KPI or house column, for tables (``CLP``, ``Wh``, ``0..1``...)."""
    if key in _UNITS:
        return _UNITS[key]
    if key in _MONEY_KEYS:
        return currency
    if key == "mean_p2p_price":
        return f"{currency}/kWh"
    if key.endswith("_wh"):
        return "Wh"
    return "0..1"


def fmt(value: object, key: str = "") -> str:
    """Fixed text form of KPI ``key``'s value: floats with :data:`DECIMALS` decimals
    (4 for ratios), NaN as empty, booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        text = f"{value:.{DECIMALS.get(key, RATIO_DECIMALS)}f}"
        return text.lstrip("-") if float(text) == 0.0 else text  # no "-0.00"
    return str(value)


def to_csv(rows: Sequence[dict[str, object]], columns: Sequence[str]) -> str:
    """CSV text (``\\n`` line ends) of ``rows`` with :func:`fmt` formatting."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([fmt(row[c], c) for c in columns])
    return out.getvalue()
