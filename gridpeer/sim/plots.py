"""PNG plots of a run and of a comparison (matplotlib, Agg backend, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gridpeer.sim.dayprofiles import SLOT_H, SLOTS_PER_DAY
from gridpeer.sim.engine import SimResult
from gridpeer.sim.kpis import Kpis

F64 = npt.NDArray[np.float64]
LONG_RUN_DAYS = 7  # beyond this, plots show daily totals / the mean day


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "savefig.bbox": "tight"})
    return plt


def _hours(n: int) -> F64:
    return np.arange(n, dtype=np.float64) * SLOT_H


def _daily(x: F64) -> F64:
    days = x.size // SLOTS_PER_DAY
    return np.asarray(x[: days * SLOTS_PER_DAY].reshape(days, SLOTS_PER_DAY).sum(axis=1))


def _title(result: SimResult, what: str) -> str:
    c = result.config
    tail = " (interrupted)" if result.interrupted else ""
    return f"{what} — {c.scenario.name}, {c.houses} houses, {c.mechanism}{tail}"


def plot_flows(result: SimResult, path: Path) -> None:
    """Community energy flows: per slot (kW) for short runs, daily kWh for long ones."""
    plt = _plt()
    s = result.ledger.trimmed_series()
    fig, ax = plt.subplots(figsize=(10, 4))
    names = [
        ("pv_wh", "PV", "#f2b705"),
        ("load_wh", "load", "#333333"),
        ("import_wh", "grid import", "#d1495b"),
        ("export_wh", "grid export", "#66a182"),
        ("p2p_wh", "P2P traded", "#00798c"),
    ]
    long_run = s["pv_wh"].size > LONG_RUN_DAYS * SLOTS_PER_DAY
    for key, label, color in names:
        if long_run:
            y = _daily(s[key]) / 1000.0
            ax.plot(np.arange(y.size), y, label=label, color=color, lw=1.2)
        else:
            y = s[key] / 1000.0 / SLOT_H
            ax.plot(_hours(y.size), y, label=label, color=color, lw=1.2)
    if long_run:
        ax.set_xlabel("day")
        ax.set_ylabel("energy per day, kWh")
    else:
        ax.set_xlabel("hours since start (UTC)")
        ax.set_ylabel("community power, kW (slot average)")
    ax.set_title(_title(result, "Community energy flows"))
    ax.grid(alpha=0.3)
    ax.legend(ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False)
    fig.savefig(path)
    plt.close(fig)


def _by_day(x: F64) -> F64:
    days = x.size // SLOTS_PER_DAY
    return np.asarray(x[: days * SLOTS_PER_DAY].reshape(days, SLOTS_PER_DAY))


def plot_prices(result: SimResult, path: Path) -> None:
    """P2P clearing price (volume-weighted) against import and feed-in tariffs: per slot
    for short runs, per day (with the day's tariff range) for long ones."""
    plt = _plt()
    s = result.ledger.trimmed_series()
    unit = result.config.scenario.tariff.currency
    scale = result.wei_per_unit
    fig, ax = plt.subplots(figsize=(10, 4))
    if s["p2p_wh"].size > LONG_RUN_DAYS * SLOTS_PER_DAY:
        value, wh = _by_day(s["p2p_value_wei"]).sum(1), _by_day(s["p2p_wh"]).sum(1)
        imp = _by_day(s["import_price"]) / scale
        days = np.arange(wh.size)
        ax.fill_between(
            days,
            imp.min(1),
            imp.max(1),
            color="#d1495b",
            alpha=0.25,
            label="grid import (daily range)",
        )
        ax.plot(days, _by_day(s["feed_in"]).mean(1) / scale, color="#66a182", label="grid feed-in")
        traded = wh > 0
        price = np.divide(value * 1000.0, wh, out=np.zeros_like(wh), where=traded)
        ax.plot(
            days[traded],
            price[traded] / scale,
            ".",
            ms=3,
            color="#00798c",
            label="P2P price (daily VWAP)",
        )
        ax.set_xlabel("day")
    else:
        hours = _hours(s["p2p_wh"].size)
        traded = s["p2p_wh"] > 0
        price = np.divide(  # wei/kWh
            s["p2p_value_wei"] * 1000.0,
            s["p2p_wh"],
            out=np.zeros_like(s["p2p_wh"]),
            where=traded,
        )
        ax.step(
            hours, s["import_price"] / scale, where="post", color="#d1495b", label="grid import"
        )
        ax.step(hours, s["feed_in"] / scale, where="post", color="#66a182", label="grid feed-in")
        ax.scatter(
            hours[traded], price[traded] / scale, s=6, color="#00798c", label="P2P price (VWAP)"
        )
        ax.set_xlabel("hours since start (UTC)")
    ax.set_ylabel(f"price, {unit}/kWh")
    ax.set_title(_title(result, "Clearing prices vs grid tariffs"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, frameon=False)
    fig.savefig(path)
    plt.close(fig)


def plot_bill_changes(result: SimResult, kpis: Kpis, path: Path) -> None:
    """Histogram of each house's bill change vs the no-P2P baseline, by household group."""
    plt = _plt()
    unit = result.config.scenario.tariff.currency
    change = -kpis.saving
    groups = result.config.scenario.households
    fig, ax = plt.subplots(figsize=(8, 4))
    bins = np.histogram_bin_edges(change, bins=min(40, max(5, change.size // 4)))
    data = [change[result.population.group == g] for g in range(len(groups))]
    ax.hist(data, bins=bins, stacked=True, label=[g.name for g in groups])
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_xlabel(f"bill change vs no-P2P baseline, {unit} (negative = saving)")
    ax.set_ylabel("houses")
    ax.set_title(_title(result, "Bill change per house"))
    ax.legend(frameon=False)
    fig.savefig(path)
    plt.close(fig)


def plot_soc(result: SimResult, path: Path) -> None:
    """Battery SoC: community mean and sample houses per slot for short runs; the daily
    range and mean of the community mean for long ones."""
    plt = _plt()
    led = result.ledger
    n = led.slots_done
    mean = led.series["mean_soc"][:n]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    if n > LONG_RUN_DAYS * SLOTS_PER_DAY:
        daily = _by_day(mean)
        days = np.arange(daily.shape[0])
        ax.fill_between(
            days,
            daily.min(1),
            daily.max(1),
            color="#888888",
            alpha=0.35,
            label="daily range of the mean SoC",
        )
        ax.plot(days, daily.mean(1), color="black", lw=1.2, label="daily mean")
        ax.set_xlabel("day")
    else:
        hours = _hours(n)
        for j in range(led.sample_soc.shape[1]):
            ax.plot(
                hours, led.sample_soc[:n, j], lw=0.8, alpha=0.7, label=f"sample battery {j + 1}"
            )
        ax.plot(hours, mean, color="black", lw=1.5, label="mean of all batteries")
        ax.set_xlabel("hours since start (UTC)")
    ax.set_ylim(0, 1)
    ax.set_ylabel("SoC")
    ax.set_title(_title(result, "Battery state of charge"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4, frameon=False)
    fig.savefig(path)
    plt.close(fig)


def plot_p2p_volume(results: Sequence[SimResult], path: Path) -> None:
    """P2P volume per market design: total kWh (bars) and mean day profile (lines)."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 2]})
    names = [r.config.mechanism for r in results]
    totals = [r.ledger.trimmed_series()["p2p_wh"].sum() / 1000.0 for r in results]
    ax1.bar(range(len(names)), totals, color="#00798c")
    ax1.set_xticks(range(len(names)), names, rotation=40, ha="right")
    ax1.set_ylabel("P2P energy traded, kWh")
    for r in results:
        x = r.ledger.trimmed_series()["p2p_wh"]
        days = max(1, x.size // SLOTS_PER_DAY)
        prof = x[: days * SLOTS_PER_DAY].reshape(days, SLOTS_PER_DAY).mean(axis=0)
        ax2.plot(_hours(SLOTS_PER_DAY), prof / 1000.0 / SLOT_H, label=r.config.mechanism)
    ax2.set_xlabel("hour of day (UTC)")
    ax2.set_ylabel("mean P2P power, kW")
    ax2.grid(alpha=0.3)
    ax2.legend(frameon=False, fontsize=8)
    c = results[0].config
    fig.suptitle(f"P2P volume per market design — {c.scenario.name}, {c.houses} houses")
    fig.savefig(path)
    plt.close(fig)


def plot_savings_by_design(results: Sequence[SimResult], path: Path) -> None:
    """Distribution of per-house savings for each design (box plot)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4))
    data = [Kpis(r).saving for r in results]
    ax.boxplot(data, tick_labels=[r.config.mechanism for r in results], showfliers=False)
    ax.axhline(0.0, color="black", lw=0.8)
    unit = results[0].config.scenario.tariff.currency
    ax.set_ylabel(f"saving per house vs no-P2P, {unit}")
    ax.set_title("Distribution of savings per market design")
    ax.grid(alpha=0.3, axis="y")
    fig.savefig(path)
    plt.close(fig)
