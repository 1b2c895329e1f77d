"""The feeder part of a run's report: KPI table, per-slot CSV and a headline sentence.

``feeder_kpis.csv`` holds :data:`~gridpeer.sim.feeder.FEEDER_KEYS` (one row);
``feeder.csv`` one row per slot (lowest/highest bus voltage in per unit, highest line
and transformer loading in %, losses and upstream-grid energy in Wh, counts of
violating elements). Voltages get 4 decimals, % and Wh 1.
"""

from __future__ import annotations

import math

from gridpeer.sim.feeder import FEEDER_KEYS, FeederFlow, FeederLog

UNITS = {
    "vmin_pu": "p.u.",
    "vmax_pu": "p.u.",
    "line_max_pct": "%",
    "trafo_max_pct": "%",
    "losses_wh": "Wh",
    "losses_pct": "% of grid exchange",
    "feeder_slots": "slots",
    "feeder_not_converged": "slots",
    "violation_slots": "slots",
    "voltage_violation_slots": "slots",
    "line_overload_slots": "slots",
    "trafo_overload_slots": "slots",
}


def fmt_value(key: str, value: object) -> str:
    """Fixed text of a feeder KPI (NaN as empty)."""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4f}" if key.endswith("_pu") else f"{value:.1f}"
    return str(value)


def kpi_rows(feeder: FeederFlow) -> list[list[str]]:
    """``[key, value, unit]`` rows of the feeder KPIs."""
    s = feeder.summary()
    return [[k, fmt_value(k, s[k]), UNITS.get(k, "")] for k in FEEDER_KEYS]


def kpis_csv(feeder: FeederFlow) -> str:
    """One-row CSV of the feeder KPIs (names quoted only where needed)."""
    s = feeder.summary()
    vals = [fmt_value(k, s[k]) for k in FEEDER_KEYS]
    quoted = [f'"{v}"' if "," in v else v for v in vals]
    return ",".join(FEEDER_KEYS) + "\n" + ",".join(quoted) + "\n"


def series_csv(log: FeederLog) -> str:
    """Per-slot feeder series (see module doc)."""
    s = log.trimmed()
    keys = FeederLog.SERIES
    lines = ["slot," + ",".join(keys)]
    for i in range(log.slots_done):
        row = [str(i)]
        for k in keys:
            v = float(s[k][i])
            if math.isnan(v):
                row.append("")
            elif k.endswith("_pu"):
                row.append(f"{v:.4f}")
            elif k.endswith(("_wh", "_pct")):
                row.append(f"{v:.1f}")
            else:
                row.append(str(int(v)))
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def headline(feeder: FeederFlow) -> str:
    """One sentence: violations and the worst bus and line."""
    s = feeder.summary()
    lim = feeder.limits
    text = (
        f"Power flow every slot ({s['feeder_slots']} slots): {s['violation_slots']} slot(s) "
        f"with a violation (voltage outside 1 ± {lim.voltage_band:g} p.u.: "
        f"{s['voltage_violation_slots']}, line over {lim.max_loading_pct:g} %: "
        f"{s['line_overload_slots']}, transformer over {lim.max_loading_pct:g} %: "
        f"{s['trafo_overload_slots']}"
    )
    if s["feeder_not_converged"]:
        text += f", not converged: {s['feeder_not_converged']}"
    text += (
        f"). Lowest voltage {fmt_value('vmin_pu', s['vmin_pu'])} p.u. at {s['vmin_bus']}, "
        f"highest {fmt_value('vmax_pu', s['vmax_pu'])} p.u. at {s['vmax_bus']}; most loaded "
        f"line {s['worst_line']} at {fmt_value('line_max_pct', s['line_max_pct'])} %, "
        f"transformer at {fmt_value('trafo_max_pct', s['trafo_max_pct'])} %; losses "
        f"{fmt_value('losses_wh', s['losses_wh'])} Wh."
    )
    return text
