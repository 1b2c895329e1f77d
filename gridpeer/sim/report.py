"""Report folders: KPI CSVs, a Markdown and an HTML summary, and PNG plots.

``write_report`` for one run; ``write_comparison`` for ``gridpeer compare`` (one
sub-folder per design plus a side-by-side table). CSVs hold only simulated
quantities (no timings), so the same seed gives byte-identical files.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from gridpeer.sim import plots
from gridpeer.sim.engine import SimResult
from gridpeer.sim.kpis import COMMUNITY_KEYS, HOUSE_COLUMNS, Kpis, fmt, to_csv
from gridpeer.sim.ledger import SERIES_FIELDS

RUN_PLOTS = (
    ("flows.png", "Community energy flows"),
    ("prices.png", "Clearing prices vs grid tariffs"),
    ("bill_changes.png", "Bill change per house"),
    ("soc.png", "Battery state of charge"),
    ("p2p_volume.png", "P2P volume"),
)
COMPARE_PLOTS = (
    ("p2p_volume.png", "P2P volume per design"),
    ("savings_by_design.png", "Savings per house per design"),
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


def _series_csv(result: SimResult) -> str:
    s = result.ledger.trimmed_series()
    lines = ["slot," + ",".join(SERIES_FIELDS)]
    for i in range(result.slots_done):
        lines.append(str(i) + "," + ",".join(fmt(float(s[k][i])) for k in SERIES_FIELDS))
    return "\n".join(lines) + "\n"


def _headline(result: SimResult) -> str:
    c = result.config
    state = (
        "interrupted by the user; totals cover the slots done" if result.interrupted else "complete"
    )
    return (
        f"Scenario **{c.scenario.name}** — {c.houses} houses, {c.days} day(s) from "
        f"{c.scenario.calendar.start.isoformat()}, market **{c.mechanism}**, seed {c.seed}. "
        f"Run {state}: {result.slots_done} slots in {result.elapsed_s:.1f} s. Money in "
        f"{c.scenario.tariff.currency}, energy in Wh, ratios 0..1."
    )


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
    written: list[Path] = []
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="")
        written.append(out / name)
    plots.plot_flows(result, out / "flows.png")
    plots.plot_prices(result, out / "prices.png")
    plots.plot_bill_changes(result, k, out / "bill_changes.png")
    plots.plot_soc(result, out / "soc.png")
    plots.plot_p2p_volume([result], out / "p2p_volume.png")
    written += [out / p for p, _ in RUN_PLOTS]
    rows = [[key, fmt(community[key])] for key in COMMUNITY_KEYS]
    title = f"gridpeer simulation — {result.config.scenario.name}"
    md = [
        f"# {title}",
        "",
        _headline(result),
        "",
        "## Community KPIs",
        "",
        _md_table(["KPI", "value"], rows),
        "",
        "Per-house KPIs: [kpis_houses.csv](kpis_houses.csv); per-slot series: "
        "[series.csv](series.csv).",
        "",
    ]
    for png, caption in RUN_PLOTS:
        md += [f"## {caption}", "", f"![{caption}]({png})", ""]
    (out / "summary.md").write_text("\n".join(md), encoding="utf-8")
    sections = [
        f"<p>{html.escape(_headline(result).replace('**', ''))}</p>",
        "<h2>Community KPIs</h2>",
        _html_table(["KPI", "value"], rows),
        "<p>Per-house KPIs: <a href='kpis_houses.csv'>kpis_houses.csv</a>.</p>",
    ]
    sections += [f"<h2>{c}</h2><img src='{p}' alt='{c}'>" for p, c in RUN_PLOTS]
    (out / "summary.html").write_text(_page(title, sections), encoding="utf-8")
    return [*written, out / "summary.md", out / "summary.html"]


def comparison_rows(results: Sequence[SimResult]) -> list[list[str]]:
    """Side-by-side table: one row per community KPI, one column per design."""
    comms = [Kpis(r).community() for r in results]
    return [[key, *(fmt(c[key]) for c in comms)] for key in COMMUNITY_KEYS if key != "mechanism"]


def write_comparison(results: Sequence[SimResult], out: Path) -> list[Path]:
    """Write ``compare.csv``, ``compare.md``, ``compare.html`` and the design plots."""
    out.mkdir(parents=True, exist_ok=True)
    header = ["kpi", *(r.config.mechanism for r in results)]
    rows = comparison_rows(results)
    csv_text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    (out / "compare.csv").write_text(csv_text, encoding="utf-8", newline="")
    plots.plot_p2p_volume(results, out / "p2p_volume.png")
    plots.plot_savings_by_design(results, out / "savings_by_design.png")
    c = results[0].config
    title = f"gridpeer market design comparison — {c.scenario.name}"
    intro = (
        f"Same {c.houses} households, weather and batteries ({c.days} day(s) from "
        f"{c.scenario.calendar.start.isoformat()}, seed {c.seed}) under each market design. "
        f"Money in {c.scenario.tariff.currency}; each design's full report is in its sub-folder."
    )
    if any(r.interrupted for r in results):
        intro += " Interrupted: some designs cover fewer slots (see slots_simulated)."
    md = [f"# {title}", "", intro, "", _md_table(header, rows), ""]
    for png, caption in COMPARE_PLOTS:
        md += [f"## {caption}", "", f"![{caption}]({png})", ""]
    links = [f"- [{r.config.mechanism}]({r.config.mechanism}/summary.md)" for r in results]
    md += ["## Reports per design", "", *links, ""]
    (out / "compare.md").write_text("\n".join(md), encoding="utf-8")
    sections = [f"<p>{html.escape(intro)}</p>", _html_table(header, rows)]
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
