"""Study output: CSV of every point, Markdown tables in the thesis's shape, PNG plots.

Tables: one block per traffic × scenario (× market), rows = technology, columns =
number of prosumers; mean one-way delay (ms), jitter (ms) and packet delivery ratio
(%). Plots: mean delay (ms, log scale) against the number of prosumers, one line per
technology (HAN: one bar per technology).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from gridpeer.netsim.messages import Traffic
from gridpeer.netsim.results import RunResult
from gridpeer.netsim.scenario import Market, Pattern, ScenarioKind
from gridpeer.netsim.technology import TECH_SPECS, Tech

Group = tuple[Traffic, ScenarioKind, Market | None, Pattern]

CSV_COLUMNS = (
    "traffic",
    "scenario",
    "market",
    "pattern",
    "technology",
    "peers",
    "mean_delay_ms",
    "jitter_ms",
    "delivery_ratio",
    "tx_packets",
    "rx_packets",
    "tx_bytes",
    "rx_bytes",
    "offered_B_per_s",
    "seconds",
    "seed",
    "wall_s",
)


def _ms(seconds: float) -> str:
    return "nan" if math.isnan(seconds) else f"{seconds * 1e3:.4f}"


def write_csv(results: Sequence[RunResult], path: Path) -> Path:
    """One row per study point; delays in ms, ratio 0..1, bytes B, load B/s."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for r in results:
            c, t = r.config, r.totals
            w.writerow(
                [
                    c.traffic,
                    c.kind,
                    c.market or "",
                    c.pattern,
                    c.tech,
                    c.peers,
                    _ms(r.mean_delay_s),
                    _ms(r.jitter_s),
                    f"{r.delivery_ratio:.6f}",
                    t.tx_packets,
                    t.rx_packets,
                    t.tx_bytes,
                    t.rx_bytes,
                    f"{r.offered_bps:.1f}",
                    c.seconds,
                    c.seed,
                    f"{r.wall_s:.3f}",
                ]
            )
    return path


def group_results(results: Sequence[RunResult]) -> dict[Group, list[RunResult]]:
    """Results keyed by (traffic, scenario, market, pattern), in first-seen order."""
    groups: dict[Group, list[RunResult]] = {}
    for r in results:
        key = (r.config.traffic, r.config.kind, r.config.market, r.config.pattern)
        groups.setdefault(key, []).append(r)
    return groups


def group_title(group: Group) -> str:
    """Human title, e.g. ``NAN trading, decentralized market — thesis traffic`` (``, in
    bursts`` for the burst pattern)."""
    traffic, kind, market, pattern = group
    name = {
        "han": "HAN (one house)",
        "nan-monitoring": "NAN monitoring",
        "nan-trading": "NAN trading",
    }
    title = name[kind.value]
    if market is not None:
        title += f", {market} market"
    burst = ", in bursts" if pattern is Pattern.BURST else ""
    return f"{title} — {traffic} traffic{burst}"


def _table(rows: list[RunResult], metric: Callable[[RunResult], str], unit: str) -> list[str]:
    peers = sorted({r.config.peers for r in rows})
    techs = [t for t in Tech if any(r.config.tech is t for r in rows)]
    cell = {(r.config.tech, r.config.peers): metric(r) for r in rows}
    head = ["technology", *(f"{p} prosumers" if p > 1 else "1 house" for p in peers)]
    out = [f"| {' | '.join(head)} |", "|" + "---|" * len(head)]
    for t in techs:
        vals = [cell.get((t, p), "") for p in peers]
        out.append(f"| {t} | {' | '.join(vals)} |")
    return [f"*{unit}*", "", *out, ""]


def markdown(results: Sequence[RunResult]) -> str:
    """All tables as one Markdown document."""
    lines = ["# gridpeer communication-network study (ns-3)", ""]
    if results:
        c = results[0].config
        lines += [f"Simulated {c.seconds:g} s of traffic per point, seed {c.seed}.", ""]
    for group, rows in group_results(results).items():
        lines += [f"## {group_title(group)}", ""]
        lines += _table(rows, lambda r: _ms(r.mean_delay_s), "Mean one-way delay, ms")
        lines += _table(rows, lambda r: _ms(r.jitter_s), "Jitter (mean |Δdelay|), ms")
        lines += _table(rows, lambda r: f"{100 * r.delivery_ratio:.2f}", "Packet delivery ratio, %")
    lines += ["## Technologies", ""]
    lines += [f"- **{s.tech}**: {s.description}" for s in TECH_SPECS.values()]
    return "\n".join(lines) + "\n"


def _slug(group: Group) -> str:
    traffic, kind, market, pattern = group
    burst = "burst" if pattern is Pattern.BURST else None
    return "_".join(str(p) for p in (traffic, kind, market, burst) if p is not None)


def plot_groups(results: Sequence[RunResult], out_dir: Path) -> list[Path]:
    """PNG per group: delay (ms, log scale) against prosumers per technology."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")

    paths = []
    for group, rows in group_results(results).items():
        fig, ax = plt.subplots(figsize=(7, 4.5))
        if group[1] is ScenarioKind.HAN:
            ax.bar([str(r.config.tech) for r in rows], [r.mean_delay_s * 1e3 for r in rows])
            ax.set_xlabel("technology")
            ax.tick_params(axis="x", rotation=30)
        else:
            for tech in Tech:
                pts = sorted(
                    (r.config.peers, r.mean_delay_s * 1e3) for r in rows if r.config.tech is tech
                )
                if pts:
                    ax.plot([p for p, _ in pts], [d for _, d in pts], marker="o", label=str(tech))
            ax.set_xticks(sorted({r.config.peers for r in rows}))
            ax.set_xlabel("number of prosumers")
            ax.legend(fontsize="small", ncol=2)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("mean one-way delay (ms)")
        ax.set_title(group_title(group), fontsize="medium")
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"delay_{_slug(group)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(results: Sequence[RunResult], out_dir: Path) -> list[Path]:
    """Write ``results.csv``, ``results.md`` and the PNG plots into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "results.md"
    md.write_text(markdown(results))
    return [write_csv(results, out_dir / "results.csv"), md, *plot_groups(results, out_dir)]
