"""Report folders: KPI CSVs, a Markdown and an HTML summary, and PNG plots.

``write_report`` for one run; ``write_comparison`` for ``gridpeer compare`` (one
sub-folder per design plus a side-by-side table). CSVs hold only simulated
quantities (no timings), so the same seed gives byte-identical files.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gridpeer.sim import plots
from gridpeer.sim.engine import SimResult
from gridpeer.sim.explain import kpi_sentences
from gridpeer.sim.kpis import COMMUNITY_KEYS, HOUSE_COLUMNS, Kpis, fmt, kpi_unit, to_csv
from gridpeer.sim.scenario import Scenario

RUN_PLOTS = (
    ("flows.png", "Community energy flows"),
    ("prices.png", "Clearing prices vs grid tariffs"),
    ("bill_changes.png", "Bill change per house"),
    ("soc.png", "Battery state of charge"),
)
COMPARE_PLOTS = (
    ("p2p_volume.png", "P2P volume per design"),
    ("savings_by_design.png", "Savings per house per design"),
)
HTML_HOUSE_ROWS = 200
"""Houses listed in ``summary.html`` (all of them are in ``kpis_houses.csv``)."""
HOUSE_TABLE = (
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
    "bill",
    "baseline_bill",
    "saving",
    "bill_change_pct",
    "self_sufficiency",
    "delivered_ratio",
)
"""Columns of the per-house table in ``summary.html``."""
SAVING_NOTE = (
    "bill = grid import cost - feed-in income + P2P paid - P2P received + network fees "
    "(to the grid operator, when the scenario's feeder charges them); baseline = the "
    "same houses without P2P. A negative bill is a net income (the house sold more to "
    "the grid than it bought). saving_pct and bill_change_pct are percentages of the "
    "no-P2P grid import cost (what was paid to the grid, always >= 0), not of the net "
    "baseline bill, whose sign flips for net exporters."
)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
    "padding:3px 8px;text-align:right}th{background:#f3f3f3}img{max-width:100%}"
)


def _page(title: str, sections: Sequence[str]) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        + "".join(sections)
        + "</body></html>\n"
    )


def _money_decimals(wei_per_unit: int) -> int:
    """Decimals that show a wei amount exactly in currency units (at most 6)."""
    d = 0
    while 10**d < wei_per_unit and d < 6:
        d += 1
    return d


def series_columns(currency: str) -> list[str]:
    """Header of ``series.csv``: money columns carry the currency in their name."""
    return [
        "slot",
        "local_time",
        "pv_wh",
        "load_wh",
        "import_wh",
        "export_wh",
        "p2p_wh",
        "charge_wh",
        "discharge_wh",
        f"p2p_value_{currency}",
        f"import_price_{currency}_per_kwh",
        f"feed_in_price_{currency}_per_kwh",
        "mean_soc",
        "base_import_wh",
    ]


def _series_csv(result: SimResult) -> str:
    """Per-slot community series: energy in Wh, money in the scenario's currency (the
    same unit as the KPIs), time as the slot's local start (ISO 8601 with offset)."""
    s = result.ledger.trimmed_series()
    sc = result.config.scenario
    scale = float(result.wei_per_unit)
    md = _money_decimals(result.wei_per_unit)
    off = _iso_offset(sc.site.utc_offset_h)
    times = plots.local_times(result, result.slots_done)
    energy = ("pv_wh", "load_wh", "import_wh", "export_wh", "p2p_wh", "charge_wh", "discharge_wh")
    lines = [",".join(series_columns(sc.tariff.currency))]
    for i in range(result.slots_done):
        row = [str(i), str(times[i]) + off]
        row += [str(int(s[k][i])) for k in energy]
        row += [f"{s[k][i] / scale:.{md}f}" for k in ("p2p_value_wei", "import_price", "feed_in")]
        row += [f"{s['mean_soc'][i]:.4f}", str(int(s["base_import_wh"][i]))]
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def _iso_offset(offset_h: float) -> str:
    sign = "+" if offset_h >= 0 else "-"
    h, m = divmod(round(abs(offset_h) * 60), 60)
    return f"{sign}{h:02d}:{m:02d}"


def house_table_rows(k: Kpis, limit: int = HTML_HOUSE_ROWS) -> list[list[str]]:
    """Rows of the per-house HTML table (rounded as in the CSV), at most ``limit``."""
    return [[fmt(row[c], c) for c in HOUSE_TABLE] for row in k.house_rows()[:limit]]


def _headline(result: SimResult) -> str:
    c = result.config
    state = (
        "interrupted by the user; totals cover the slots done" if result.interrupted else "complete"
    )
    return (
        f"Scenario **{c.scenario.name}** — {c.houses} houses, {c.days} day(s) from "
        f"{c.scenario.calendar.start.isoformat()}, market **{c.mechanism}**, seed {c.seed}. "
        f"Agents order from a {_forecast_text(c.scenario)} forecast. "
        f"Run {state}: {result.slots_done} slots in {result.elapsed_s:.1f} s. Money in "
        f"{c.scenario.tariff.currency}, energy in Wh, ratios 0..1, times in local time "
        f"({plots.utc_label(c.scenario.site.utc_offset_h)})."
    )


FORECAST_ROWS = (
    ("forecast_mae_wh", "MAE of the net (PV − load) forecast", "Wh/slot"),
    ("forecast_rmse_wh", "RMSE of the net forecast", "Wh/slot"),
    ("persistence_mae_wh", "MAE of persistence (yesterday's slot)", "Wh/slot"),
    ("persistence_rmse_wh", "RMSE of persistence", "Wh/slot"),
    ("forecast_skill", "skill = 1 − RMSE / RMSE persistence", "ratio"),
    ("forecast_values", "house-slots scored (from day 2)", "count"),
)


def forecast_rows(result: SimResult) -> list[list[str]]:
    """The report's forecast-error table rows: metric, meaning, value, unit."""
    f = result.forecast or {}
    return [
        [key, text, "n/a" if key not in f or f[key] != f[key] else f"{f[key]:.4g}", unit]
        for key, text, unit in FORECAST_ROWS
    ]


def device_rows(result: SimResult) -> list[list[str]]:
    """Community totals of the flexible devices' energy, kWh (empty without devices)."""
    dev = result.ledger.devices
    if not any(float(np.abs(v).sum()) > 0 for v in dev.values()):
        return []
    return [[k, f"{float(v.sum()) / 1000:.1f}", "kWh"] for k, v in dev.items()]


def _devices_csv(result: SimResult) -> str:
    dev = result.ledger.devices
    lines = ["house," + ",".join(dev)]
    for i, hid in enumerate(result.population.ids):
        lines.append(hid + "," + ",".join(f"{v[i]:.0f}" for v in dev.values()))
    return "\n".join(lines) + "\n"


def write_report(result: SimResult, out: Path) -> list[Path]:
    """Write the report of one run into ``out`` (created); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    k = Kpis(result)
    community = k.community()
    files = {
        "kpis_houses.csv": to_csv(k.house_rows(), HOUSE_COLUMNS),
        "kpis_community.csv": to_csv([community], COMMUNITY_KEYS),
        "series.csv": _series_csv(result),
    }
    drows = device_rows(result)
    if drows:
        files["devices.csv"] = _devices_csv(result)
    frows = forecast_rows(result)
    files["forecast.csv"] = "metric,value,unit\n" + "".join(
        f"{r[0]},{r[2]},{r[3]}\n" for r in frows
    )
    written: list[Path] = []
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="")
        written.append(out / name)
    plots.save(plots.flows_figure(result), out / "flows.png")
    plots.save(plots.prices_figure(result), out / "prices.png")
    plots.save(plots.bill_changes_figure(result, k), out / "bill_changes.png")
    plots.save(plots.soc_figure(result), out / "soc.png")
    written += [out / p for p, _ in RUN_PLOTS]
    cur = result.config.scenario.tariff.currency
    rows = [[key, fmt(community[key], key), kpi_unit(key, cur)] for key in COMMUNITY_KEYS]
    title = f"gridpeer simulation — {result.config.scenario.name}"
    houses = house_table_rows(k)
    more = (
        f" (first {len(houses)} of {result.population.n}; all in the CSV)"
        if result.population.n > len(houses)
        else ""
    )
    house_header = [f"{c} ({kpi_unit(c, cur)})" if kpi_unit(c, cur) else c for c in HOUSE_TABLE]
    md = [
        f"# {title}",
        "",
        _headline(result),
        "",
        "## Community KPIs",
        "",
        _md_table(["KPI", "value", "unit"], rows),
        "",
        SAVING_NOTE,
        "",
        *(
            [
                "## Devices (EV, heat pump, wind, hydro)",
                "",
                _md_table(["energy", "community total", "unit"], drows),
                "",
                "EV charging is split over own PV/battery, P2P and grid pro rata to its "
                "share of each slot's load; per house in [devices.csv](devices.csv).",
                "",
            ]
            if drows
            else []
        ),
        f"## Forecast ({_forecast_text(result.config.scenario)})",
        "",
        _md_table(["metric", "meaning", "value", "unit"], frows),
        "",
        f"## Houses{more}",
        "",
        _md_table(house_header, houses),
        "",
        "Per-house KPIs: [kpis_houses.csv](kpis_houses.csv); per-slot series: "
        "[series.csv](series.csv).",
        "",
    ]
    if result.warnings:
        md[4:4] = ["## Warnings", "", *(f"- {w}" for w in result.warnings), ""]
    for png, caption in RUN_PLOTS:
        md += [f"## {caption}", "", f"![{caption}]({png})", ""]
    feeder_md, feeder_html = _feeder_part(result, out)
    md += feeder_md
    (out / "summary.md").write_text("\n".join(md), encoding="utf-8")
    sections = [
        f"<p>{html.escape(_headline(result).replace('**', ''))}</p>",
        "<h2>Community KPIs</h2>",
        _html_table(["KPI", "value", "unit"], rows),
        f"<p>{html.escape(SAVING_NOTE)}</p>",
        *(
            [
                "<h2>Devices (EV, heat pump, wind, hydro)</h2>",
                _html_table(["energy", "community total", "unit"], drows),
            ]
            if drows
            else []
        ),
        f"<h2>Forecast ({html.escape(_forecast_text(result.config.scenario))})</h2>",
        _html_table(["metric", "meaning", "value", "unit"], frows),
        f"<h2>Houses{html.escape(more)}</h2>",
        _html_table(house_header, houses),
        "<p>Per-house KPIs: <a href='kpis_houses.csv'>kpis_houses.csv</a>; per-slot series: "
        "<a href='series.csv'>series.csv</a>.</p>",
    ]
    if result.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
        sections[1:1] = [f"<h2>Warnings</h2><ul>{items}</ul>"]
    sections += [f"<h2>{c}</h2><img src='{p}' alt='{c}'>" for p, c in RUN_PLOTS]
    sections += feeder_html
    (out / "summary.html").write_text(_page(title, sections), encoding="utf-8")
    if result.feeder is not None:
        written += [out / "feeder.csv", out / "feeder_kpis.csv"]
    return [*written, out / "summary.md", out / "summary.html"]


def _feeder_part(result: SimResult, out: Path) -> tuple[list[str], list[str]]:
    """Write ``feeder.csv`` and ``feeder_kpis.csv``; the Markdown and HTML sections."""
    if result.feeder is None:
        return [], []
    from gridpeer.sim import feeder_report as fr

    f = result.feeder
    (out / "feeder.csv").write_text(fr.series_csv(f.log), encoding="utf-8", newline="")
    (out / "feeder_kpis.csv").write_text(fr.kpis_csv(f), encoding="utf-8", newline="")
    rows = fr.kpi_rows(f)
    if result.grid_market is not None:
        cur = result.config.scenario.tariff.currency
        gm = result.grid_market.summary(result.wei_per_unit)
        units = {"curtailed_wh": "Wh", "network_fees": cur}
        rows += [
            [k, fmt(v, "saving" if k == "network_fees" else k), units.get(k, "")]
            for k, v in gm.items()
        ]
    head = ["KPI", "value", "unit"]
    md = ["## Feeder (AC power flow)", "", fr.headline(f), "", _md_table(head, rows), ""]
    md += ["Per slot: [feeder.csv](feeder.csv).", ""]
    html_part = [
        "<h2>Feeder (AC power flow)</h2>",
        f"<p>{html.escape(fr.headline(f))}</p>",
        _html_table(head, rows),
        "<p>Per slot: <a href='feeder.csv'>feeder.csv</a>.</p>",
    ]
    return md, html_part


def comparison_rows(results: Sequence[SimResult]) -> list[list[str]]:
    """Side-by-side table: one row per community KPI, one column per design."""
    comms = [Kpis(r).community() for r in results]
    return [
        [key, *(fmt(c[key], key) for c in comms)] for key in COMMUNITY_KEYS if key != "mechanism"
    ]


def _forecast_text(sc: Scenario) -> str:
    if sc.strategy.forecast == "noisy":
        return f"noisy (error sigma {sc.strategy.forecast_error:g})"
    return sc.strategy.forecast


def comparison_sentences(results: Sequence[SimResult]) -> list[str]:
    """One sentence per community KPI: whether the designs differ, and why."""
    sc = results[0].config.scenario
    forecast: str = sc.strategy.forecast
    if forecast == "noisy":
        forecast = f"noisy, error sigma {sc.strategy.forecast_error:g}"
    comms = [Kpis(r).community() for r in results]
    names = [r.config.mechanism for r in results]
    return [text for _, text in kpi_sentences(names, comms, forecast)]


def write_comparison(results: Sequence[SimResult], out: Path) -> list[Path]:
    """Write ``compare.csv``, ``compare.md``, ``compare.html`` and the design plots."""
    out.mkdir(parents=True, exist_ok=True)
    header = ["kpi", *(r.config.mechanism for r in results)]
    rows = comparison_rows(results)
    csv_text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    (out / "compare.csv").write_text(csv_text, encoding="utf-8", newline="")
    plots.save(plots.p2p_volume_figure(results), out / "p2p_volume.png", tight=True)
    plots.save(plots.savings_by_design_figure(results), out / "savings_by_design.png", tight=True)
    sentences = comparison_sentences(results)
    c = results[0].config
    title = f"gridpeer market design comparison — {c.scenario.name}"
    intro = (
        f"Same {c.houses} households, weather and batteries ({c.days} day(s) from "
        f"{c.scenario.calendar.start.isoformat()}, seed {c.seed}) under each market design. "
        f"Agents order from a {_forecast_text(c.scenario)} forecast. Money in "
        f"{c.scenario.tariff.currency}; each design's full report is in its sub-folder."
    )
    cur = c.scenario.tariff.currency
    unit_header = [header[0], "unit", *header[1:]]
    unit_rows = [[r[0], kpi_unit(r[0], cur), *r[1:]] for r in rows]
    if any(r.interrupted for r in results):
        intro += " Interrupted: some designs cover fewer slots (see slots_simulated)."
    md = [f"# {title}", "", intro, "", _md_table(unit_header, unit_rows), "", SAVING_NOTE, ""]
    md += ["## Do the designs differ?", "", *(f"- {t}" for t in sentences), ""]
    for png, caption in COMPARE_PLOTS:
        md += [f"## {caption}", "", f"![{caption}]({png})", ""]
    links = [f"- [{r.config.mechanism}]({r.config.mechanism}/summary.md)" for r in results]
    md += ["## Reports per design", "", *links, ""]
    (out / "compare.md").write_text("\n".join(md), encoding="utf-8")
    sections = [
        f"<p>{html.escape(intro)}</p>",
        _html_table(unit_header, unit_rows),
        f"<p>{html.escape(SAVING_NOTE)}</p>",
        "<h2>Do the designs differ?</h2><ul>"
        + "".join(f"<li>{html.escape(t)}</li>" for t in sentences)
        + "</ul>",
    ]
    sections += [f"<h2>{cap}</h2><img src='{p}' alt='{cap}'>" for p, cap in COMPARE_PLOTS]
    sections.append(
        "<ul>"
        + "".join(
            f"<li><a href='{r.config.mechanism}/summary.html'>{r.config.mechanism}</a></li>"
            for r in results
        )
        + "</ul>"
    )
    (out / "compare.html").write_text(_page(title, sections), encoding="utf-8")
    return [out / n for n in ("compare.csv", "compare.md", "compare.html")] + [
        out / p for p, _ in COMPARE_PLOTS
    ]


GRID_KPIS = ("p2p_wh", "delivered_ratio", "saving", "saving_pct", "self_sufficiency")


def write_forecast_grid(grid: Sequence[tuple[str, Sequence[SimResult]]], out: Path) -> list[Path]:
    """``forecast_grid.csv``/``.md``: each design's KPIs under each forecast, with the
    forecast's skill, so how forecast quality moves each design shows side by side."""
    out.mkdir(parents=True, exist_ok=True)
    header = ["forecast", "mechanism", *GRID_KPIS, "forecast_mae_wh", "forecast_skill"]
    rows: list[list[str]] = []
    for forecast, results in grid:
        for r in results:
            c = Kpis(r).community()
            f = r.forecast or {}
            rows.append(
                [
                    forecast,
                    r.config.mechanism,
                    *(fmt(c[k], k) for k in GRID_KPIS),
                    f"{f.get('forecast_mae_wh', float('nan')):.4g}",
                    f"{f.get('forecast_skill', float('nan')):.4g}",
                ]
            )
    (out / "forecast_grid.csv").write_text(
        "\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8", newline=""
    )
    md = [
        "# Market designs under each forecast",
        "",
        "Same households and weather; only the agents' forecast changes. Energy in Wh, "
        "forecast errors of the net (PV − load) per house and slot, skill = 1 − RMSE / "
        "RMSE of persistence.",
        "",
        _md_table(header, rows),
        "",
    ]
    (out / "forecast_grid.md").write_text("\n".join(md), encoding="utf-8")
    return [out / "forecast_grid.csv", out / "forecast_grid.md"]
