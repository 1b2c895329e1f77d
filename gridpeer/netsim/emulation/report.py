"""The emulation's report: the loss × delay table as CSV and Markdown, and PNG plots.

Pure (matplotlib, no rig): :func:`write_emulation_report` takes one
:class:`EmulationPoint` per loss × delay point (as ``bench/lossy_live.py`` measures
them) and writes into a folder

* ``emulation.csv`` and ``emulation.md``: one row per point;
* ``emulation_command_latency.png``: delivery-command latency p99 (ms, log scale)
  against link loss (%), one line per one-way link delay, measured (solid, circles)
  next to ns-3's prediction for the same link (dashed, crosses);
* ``emulation_settled.png``: trades settled in full / booked (0..1) against loss, one
  line per delay;
* ``emulation_reading_delay.png``: reading delay p99 (ms, log scale) against loss.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class EmulationPoint:
    """One loss × delay point of the live system over emulated links.

    Attributes:
        loss: packet loss of every house's link, each direction (0..1).
        delay_ms: one-way link delay, ms.
        cmd_p99_ms: delivery-command latency p99 (broker → house), ms; None if none.
        reading_p99_ms: reading delay p99 (timestamp → broker), ms; None if none.
        booked: trades booked.
        settled_full: trades settled in full.
        short: trades settled short (a missed window).
        reclaimed: trades ended by the buyer's reclaim.
        ns3_p99_ms: ns-3's predicted p99 for a small TCP message on the same link, ms.
    """

    loss: float
    delay_ms: float
    cmd_p99_ms: float | None
    reading_p99_ms: float | None
    booked: int
    settled_full: int
    short: int
    reclaimed: int
    ns3_p99_ms: float | None = None

    @property
    def settled_ratio(self) -> float:
        """Trades settled in full / trades booked (0..1; 1.0 if none booked)."""
        return self.settled_full / self.booked if self.booked else 1.0


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:,.0f}"


def markdown(points: Sequence[EmulationPoint]) -> str:
    """The table of docs/netsim.md: one row per point."""
    lines = [
        "| loss | delay | command p99 (ms) | reading p99 (ms) | trades in full "
        "| short / reclaimed | ns-3 p99 (ms) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        lines.append(
            f"| {p.loss:.0%} | {p.delay_ms:.0f} ms | {_fmt(p.cmd_p99_ms)} "
            f"| {_fmt(p.reading_p99_ms)} | {p.settled_full}/{p.booked} "
            f"| {p.short} / {p.reclaimed} | {_fmt(p.ns3_p99_ms)} |"
        )
    return "\n".join(lines) + "\n"


def write_csv(points: Sequence[EmulationPoint], path: Path) -> Path:
    """One row per point, the :class:`EmulationPoint` fields plus ``settled_ratio``."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f.name for f in fields(EmulationPoint)] + ["settled_ratio"])
        for p in points:
            w.writerow([*asdict(p).values(), f"{p.settled_ratio:.3f}"])
    return path


def _by_delay(points: Sequence[EmulationPoint]) -> dict[float, list[EmulationPoint]]:
    out: dict[float, list[EmulationPoint]] = {}
    for p in sorted(points, key=lambda p: (p.delay_ms, p.loss)):
        out.setdefault(p.delay_ms, []).append(p)
    return out


def plot(
    points: Sequence[EmulationPoint],
    path: Path,
    value: Callable[[EmulationPoint], float | None],
    ylabel: str,
    title: str,
    *,
    log: bool,
    predicted: Callable[[EmulationPoint], float | None] | None = None,
) -> Path:
    """One PNG: ``value`` against loss (%), a line per delay (and ``predicted`` dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, (delay, row) in enumerate(_by_delay(points).items()):
        color = f"C{k}"
        xs = [(100 * p.loss, value(p)) for p in row]
        pts = [(x, y) for x, y in xs if y is not None]
        ax.plot(*zip(*pts, strict=True), marker="o", color=color, label=f"{delay:g} ms measured")
        if predicted is not None:
            pred = [(100 * p.loss, predicted(p)) for p in row]
            pred_pts = [(x, y) for x, y in pred if y is not None]
            if pred_pts:
                ax.plot(
                    *zip(*pred_pts, strict=True),
                    marker="x",
                    linestyle="--",
                    color=color,
                    label=f"{delay:g} ms ns-3",
                )
    ax.set_xlabel("packet loss on every house's link (%)")
    ax.set_ylabel(ylabel)
    ax.set_xticks(sorted({100 * p.loss for p in points}))
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(-0.05, 1.05)
    ax.set_title(title, fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_emulation_report(points: Sequence[EmulationPoint], out_dir: Path) -> list[Path]:
    """Write ``emulation.csv``, ``emulation.md`` and the three PNG plots into ``out_dir``."""
    if not points:
        raise ValueError("no points to report")
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "emulation.md"
    md.write_text(markdown(points))
    paths = [write_csv(points, out_dir / "emulation.csv"), md]
    paths.append(
        plot(
            points,
            out_dir / "emulation_command_latency.png",
            lambda p: p.cmd_p99_ms,
            "delivery command latency p99 (ms)",
            "Broker → house delivery commands over emulated links (line: link delay)",
            log=True,
            predicted=lambda p: p.ns3_p99_ms,
        )
    )
    paths.append(
        plot(
            points,
            out_dir / "emulation_settled.png",
            lambda p: p.settled_ratio,
            "trades settled in full / booked",
            "Trades settled in full over emulated links (line: link delay)",
            log=False,
        )
    )
    paths.append(
        plot(
            points,
            out_dir / "emulation_reading_delay.png",
            lambda p: p.reading_p99_ms,
            "reading delay p99 (ms)",
            "Meter readings: timestamp → broker over emulated links (line: link delay)",
            log=True,
        )
    )
    return paths
