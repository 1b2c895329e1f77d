"""PNG plots of a run and of a comparison (matplotlib's object API, Agg, no pyplot).

Each ``*_figure`` function builds a :class:`matplotlib.figure.Figure` (so tests can
read its axes) and :func:`save` writes it. Time axes are in the site's local time
(``site.utc_offset_h``); money in the scenario's currency; energy in kWh, power in kW.
matplotlib is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from gridpeer.sim.dayprofiles import SLOT_H, SLOTS_PER_DAY
from gridpeer.sim.engine import SimResult
from gridpeer.sim.kpis import Kpis

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

F64 = npt.NDArray[np.float64]
DT64 = npt.NDArray[np.datetime64]
LONG_RUN_DAYS = 7  # beyond this, plots show daily totals / the mean day
DESIGN_COLORS = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#000000",
    "#f0e442",
)
"""Okabe-Ito colours: one per market design, distinguishable with colour blindness."""
DESIGN_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _figure(width: float, height: float) -> Figure:
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams["font.size"] = 9
    return Figure(figsize=(width, height), dpi=100)


def _one_axes(width: float, height: float, legend_below: bool) -> tuple[Figure, Axes]:
    """A figure with one axes and fixed margins in inches (room for the tick labels, the
    axis labels, the date offset and a legend below): drawing once, with no tight
    bounding-box pass, halves the time :func:`save` takes."""
    fig = _figure(width, height)
    bottom = 0.7 + (0.3 if legend_below else 0.0)
    fig.subplots_adjust(
        left=0.8 / width, right=1 - 0.25 / width, top=1 - 0.4 / height, bottom=bottom / height
    )
    return fig, fig.subplots()


def _legend_below(fig: Figure, ax: Axes, ncol: int) -> None:
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False)


def save(fig: Figure, path: Path, tight: bool = False) -> None:
    """Write ``fig`` as PNG to ``path``; ``tight`` crops to the drawn content (one more
    drawing pass: for the comparison figures, whose layout varies with the designs)."""
    fig.savefig(path, bbox_inches="tight" if tight else None)


def utc_label(offset_h: float) -> str:
    """``UTC-3``, ``UTC+5:30``, ``UTC`` for an offset in hours."""
    if offset_h == 0:
        return "UTC"
    sign = "+" if offset_h > 0 else "-"
    h, m = divmod(round(abs(offset_h) * 60), 60)
    return f"UTC{sign}{h}" + (f":{m:02d}" if m else "")


def local_times(result: SimResult, n: int) -> DT64:
    """Local wall-clock start of each of the first ``n`` slots (naive, minutes)."""
    sc = result.config.scenario
    d = sc.calendar.start
    start = datetime(d.year, d.month, d.day) + timedelta(hours=sc.site.utc_offset_h)
    return np.datetime64(start, "m") + np.arange(n) * np.timedelta64(15, "m")


def _days(result: SimResult, n: int) -> DT64:
    return np.datetime64(result.config.scenario.calendar.start, "D") + np.arange(n)


def _time_axis(ax: Axes, result: SimResult, daily: bool) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))  # type: ignore[no-untyped-call]
    offset = result.config.scenario.site.utc_offset_h
    ax.set_xlabel("date" if daily else f"local time ({utc_label(offset)})")


def _daily(x: F64) -> F64:
    days = x.size // SLOTS_PER_DAY
    return np.asarray(x[: days * SLOTS_PER_DAY].reshape(days, SLOTS_PER_DAY).sum(axis=1))


def _by_day(x: F64) -> F64:
    days = x.size // SLOTS_PER_DAY
    return np.asarray(x[: days * SLOTS_PER_DAY].reshape(days, SLOTS_PER_DAY))


def _title(result: SimResult, what: str) -> str:
    c = result.config
    tail = " (interrupted)" if result.interrupted else ""
    return f"{what} — {c.scenario.name}, {c.houses} houses, {c.mechanism}{tail}"


def _long(result: SimResult) -> bool:
    return result.slots_done > LONG_RUN_DAYS * SLOTS_PER_DAY


def flows_figure(result: SimResult) -> Figure:
    """Community energy flows: per slot (kW) for short runs, daily kWh for long ones."""
    s = result.ledger.trimmed_series()
    fig, ax = _one_axes(10, 4, legend_below=True)
    names = [
        ("pv_wh", "PV", "#e69f00", "-"),
        ("load_wh", "load", "#333333", "-"),
        ("import_wh", "grid import", "#d55e00", "--"),
        ("export_wh", "grid export", "#009e73", "--"),
        ("p2p_wh", "P2P traded", "#0072b2", "-"),
    ]
    long_run = _long(result)
    for key, label, color, style in names:
        if long_run:
            y = _daily(s[key]) / 1000.0
            ax.plot(_days(result, y.size), y, style, label=label, color=color, lw=1.4)
        else:
            y = s[key] / 1000.0 / SLOT_H
            ax.plot(local_times(result, y.size), y, style, label=label, color=color, lw=1.4)
    ax.set_ylabel("energy per day, kWh" if long_run else "community power, kW (slot average)")
    _time_axis(ax, result, long_run)
    ax.set_title(_title(result, "Community energy flows"))
    ax.grid(alpha=0.3)
    _legend_below(fig, ax, 5)
    return fig


def prices_figure(result: SimResult) -> Figure:
    """P2P clearing price (volume-weighted) against import and feed-in tariffs: per slot
    for short runs, per day (with the day's tariff range) for long ones."""
    s = result.ledger.trimmed_series()
    unit = result.config.scenario.tariff.currency
    scale = result.wei_per_unit
    fig, ax = _one_axes(10, 4, legend_below=True)
    if _long(result):
        value, wh = _by_day(s["p2p_value_wei"]).sum(1), _by_day(s["p2p_wh"]).sum(1)
        imp = _by_day(s["import_price"]) / scale
        days = _days(result, wh.size)
        ax.fill_between(
            days, imp.min(1), imp.max(1), color="#d55e00", alpha=0.25, label="grid import (range)"
        )
        ax.plot(days, _by_day(s["feed_in"]).mean(1) / scale, color="#009e73", label="grid feed-in")
        traded = wh > 0
        price = np.divide(value * 1000.0, wh, out=np.zeros_like(wh), where=traded)
        ax.plot(
            days[traded],
            price[traded] / scale,
            "o",
            ms=3,
            color="#0072b2",
            label="P2P price (daily volume-weighted)",
        )
    else:
        times = local_times(result, s["p2p_wh"].size)
        traded = s["p2p_wh"] > 0
        price = np.divide(  # wei/kWh
            s["p2p_value_wei"] * 1000.0, s["p2p_wh"], out=np.zeros_like(s["p2p_wh"]), where=traded
        )
        ax.step(
            times, s["import_price"] / scale, where="post", color="#d55e00", label="grid import"
        )
        ax.step(times, s["feed_in"] / scale, where="post", color="#009e73", label="grid feed-in")
        ax.scatter(
            times[traded],
            price[traded] / scale,
            s=8,
            color="#0072b2",
            label="P2P price (volume-weighted)",
        )
    _time_axis(ax, result, _long(result))
    ax.set_ylabel(f"price, {unit}/kWh")
    ax.set_title(_title(result, "Clearing prices vs grid tariffs"))
    ax.grid(alpha=0.3)
    _legend_below(fig, ax, 3)
    return fig


def bill_changes_figure(result: SimResult, kpis: Kpis) -> Figure:
    """Histogram of each house's bill change vs the no-P2P baseline, by household group
    (whole numbers of houses on the count axis)."""
    from matplotlib.ticker import MaxNLocator

    unit = result.config.scenario.tariff.currency
    change = -kpis.saving
    groups = result.config.scenario.households
    fig, ax = _one_axes(8, 4, legend_below=False)
    bins = np.histogram_bin_edges(change, bins=min(40, max(5, change.size // 4)))
    data = [change[result.population.group == g] for g in range(len(groups))]
    colors = [DESIGN_COLORS[g % len(DESIGN_COLORS)] for g in range(len(groups))]
    ax.hist(data, bins=bins.tolist(), stacked=True, label=[g.name for g in groups], color=colors)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_xlabel(f"bill change vs no-P2P baseline, {unit} (negative = saving)")
    ax.set_ylabel("houses")
    ax.set_title(_title(result, "Bill change per house"))
    ax.legend(frameon=False)
    return fig


def soc_figure(result: SimResult) -> Figure:
    """Battery SoC: community mean and sample houses per slot for short runs; the daily
    range and mean of the community mean for long ones."""
    led = result.ledger
    n = led.slots_done
    mean = led.series["mean_soc"][:n]
    fig, ax = _one_axes(10, 3.5, legend_below=True)
    if _long(result):
        daily = _by_day(mean)
        days = _days(result, daily.shape[0])
        ax.fill_between(
            days, daily.min(1), daily.max(1), color="#888888", alpha=0.35, label="daily range"
        )
        ax.plot(days, daily.mean(1), color="black", lw=1.2, label="daily mean")
    else:
        times = local_times(result, n)
        for j in range(led.sample_soc.shape[1]):
            ax.plot(
                times,
                led.sample_soc[:n, j],
                lw=1.0,
                color=DESIGN_COLORS[j + 1],
                label=f"sample battery {j + 1}",
            )
        ax.plot(times, mean, color="black", lw=1.5, ls="--", label="mean of all batteries")
    _time_axis(ax, result, _long(result))
    ax.set_ylim(0, 1)
    ax.set_ylabel("state of charge, 0..1")
    ax.set_title(_title(result, "Battery state of charge"))
    ax.grid(alpha=0.3)
    _legend_below(fig, ax, 4)
    return fig


def mean_day_local(result: SimResult, key: str = "p2p_wh") -> F64:
    """Mean day of a community series by local slot of day (slot 0 = local midnight)."""
    x = result.ledger.trimmed_series()[key]
    days = max(1, x.size // SLOTS_PER_DAY)
    full = x[: days * SLOTS_PER_DAY]
    if full.size < SLOTS_PER_DAY:
        full = np.pad(full, (0, SLOTS_PER_DAY - full.size))
    prof = full.reshape(-1, SLOTS_PER_DAY).mean(axis=0)
    shift = round(result.config.scenario.site.utc_offset_h * 4)
    return np.asarray(np.roll(prof, shift), dtype=np.float64)


def p2p_volume_figure(results: Sequence[SimResult]) -> Figure:
    """P2P volume per market design: total kWh (labelled bars) and, in small multiples,
    each design's mean-day profile against the mean of all designs (dashed)."""
    n = len(results)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = _figure(11, 3.0 + 2.0 * rows)
    subs = cast("npt.NDArray[Any]", fig.subfigures(2, 1, height_ratios=[3.0, 2.0 * rows]))
    top, bottom = subs[0], subs[1]
    ax = top.subplots()
    names = [r.config.mechanism for r in results]
    totals = [r.ledger.trimmed_series()["p2p_wh"].sum() / 1000.0 for r in results]
    colors = [DESIGN_COLORS[i % len(DESIGN_COLORS)] for i in range(n)]
    bars = ax.bar(range(n), totals, color=colors)
    ax.bar_label(bars, labels=[f"{t:,.1f}" for t in totals], fontsize=8)
    ax.set_xticks(range(n), names)
    ax.set_ylabel("P2P energy delivered, kWh")
    ax.margins(y=0.15)
    offset = results[0].config.scenario.site.utc_offset_h
    hours = np.arange(SLOTS_PER_DAY) * SLOT_H
    profiles = [mean_day_local(r) / 1000.0 / SLOT_H for r in results]
    overall = np.mean(profiles, axis=0)
    axes = bottom.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    for i, ax_i in enumerate(axes.flat):
        if i >= n:
            ax_i.set_visible(False)
            continue
        ax_i.plot(hours, overall, color="#999999", lw=1.0, ls="--")
        ax_i.plot(
            hours,
            profiles[i],
            color=colors[i],
            lw=1.4,
            marker=DESIGN_MARKERS[i % len(DESIGN_MARKERS)],
            markevery=8,
            ms=3,
        )
        ax_i.set_title(names[i], fontsize=9)
        ax_i.set_xticks([0, 6, 12, 18, 24])
        ax_i.grid(alpha=0.3)
    bottom.supxlabel(f"hour of day, local time ({utc_label(offset)})", fontsize=9)
    bottom.supylabel("mean P2P power, kW", fontsize=9)
    c = results[0].config
    top.suptitle(
        f"P2P energy per market design — {c.scenario.name}, {c.houses} houses "
        "(dashed: mean of all designs)"
    )
    return fig


def savings_by_design_figure(results: Sequence[SimResult]) -> Figure:
    """Distribution of per-house savings for each design (box plot, mean as a marker)."""
    fig = _figure(9, 4)
    ax = fig.subplots()
    data = [Kpis(r).saving for r in results]
    names = [r.config.mechanism for r in results]
    box = ax.boxplot(data, tick_labels=names, showfliers=False, patch_artist=True)
    for i, patch in enumerate(box["boxes"]):
        patch.set_facecolor(DESIGN_COLORS[i % len(DESIGN_COLORS)])
        patch.set_alpha(0.5)
    ax.plot(range(1, len(data) + 1), [float(np.mean(d)) for d in data], "kD", ms=4, label="mean")
    ax.axhline(0.0, color="black", lw=0.8)
    unit = results[0].config.scenario.tariff.currency
    ax.set_ylabel(f"saving per house vs no-P2P, {unit}")
    ax.set_title("Distribution of savings per market design")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(frameon=False)
    return fig
