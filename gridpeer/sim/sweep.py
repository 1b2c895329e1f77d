"""``gridpeer sweep``: a study's runs on a Dask cluster, one results table, CIs and plots.

Every run of the :class:`~gridpeer.sim.study.Study` grid is one Dask task
(:func:`run_one`: simulate, return the community KPIs and, with a feeder, the feeder's
KPIs as one flat row). The client writes each result to ``runs/<run id>.json`` as
soon as it arrives (write to a temporary file, then rename), so a sweep that is
interrupted — or a worker that dies — loses at most the runs in flight, and a new
``sweep`` of the same study skips every run whose file exists. Dask itself
reschedules the tasks of a lost worker on the others (each task may fail up to
``distributed.scheduler.allowed-failures`` times, default 3).

At the end, all the grid's rows make ``results.parquet`` and ``results.csv`` (one row
per run), ``summary.csv`` (per design and parameter combination, per KPI: mean,
standard deviation, n and the half width of a 95 % confidence interval of the mean
across seeds, Student's t with n − 1 degrees of freedom) and one plot per headline
KPI (``sweep_<kpi>.png``: mean ± 95 % CI per design).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridpeer.sim.scenario import Scenario
from gridpeer.sim.study import RunSpec, Study

PLOT_KPIS = (
    "saving_pct",
    "p2p_share",
    "self_sufficiency",
    "gini_savings",
    "violation_slots",
    "market_caused_violation_slots",
)
"""KPIs plotted per design (those present in the table)."""
ID_COLUMNS = ("run_id", "design", "seed", "houses", "days")


def run_one(scenario: Scenario, spec: RunSpec) -> dict[str, Any]:
    """Simulate one run of a study and return its row (runs on a Dask worker).

    Columns: :data:`ID_COLUMNS`, ``param:<key>`` per parameter, the community KPIs
    (:data:`gridpeer.sim.kpis.COMMUNITY_KEYS`), the feeder KPIs when the scenario has a
    feeder, and ``elapsed_s`` (wall time of the run on its worker, s).
    """
    from gridpeer.sim.engine import make_config, simulate
    from gridpeer.sim.kpis import Kpis

    t0 = time.perf_counter()
    result = simulate(make_config(scenario, spec.design, spec.houses, spec.days, spec.seed))
    row: dict[str, Any] = {
        "run_id": spec.run_id,
        "design": spec.design,
        "seed": spec.seed,
        "houses": spec.houses,
        "days": spec.days,
    }
    for key, value in spec.params:
        row[f"param:{key}"] = value
    row.update(Kpis(result).community())
    if result.feeder is not None:
        row.update(result.feeder.summary())
    if result.grid_market is not None:
        row.update(result.grid_market.summary(result.wei_per_unit))
    row["elapsed_s"] = time.perf_counter() - t0
    return row


@dataclass
class SweepOutcome:
    """What a sweep did: runs computed now, runs skipped (already done), files written."""

    computed: int
    skipped: int
    files: list[Path]
    elapsed_s: float


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def done_runs(out: Path) -> set[str]:
    """Run ids with a result file in ``out/runs``."""
    folder = out / "runs"
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.glob("*.json")}


def make_client(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    """A Dask client: of the cluster at ``scheduler`` (``tcp://host:8786``), or of a new
    ``LocalCluster`` of ``workers`` single-threaded worker processes on 127.0.0.1 without
    a dashboard. Returns ``(client, cluster or None)``; close both."""
    import logging

    from distributed import Client, LocalCluster

    for name in ("distributed", "tornado"):  # lifecycle chatter, even under a verbose CLI
        logging.getLogger(name).setLevel(logging.ERROR)
    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,  # no heartbeat tracebacks while shutting down
    )
    return Client(cluster), cluster


def run_sweep(
    study: Study,
    out: Path,
    client: Any,
    on_result: Callable[[dict[str, Any], int, int], None] | None = None,
) -> SweepOutcome:
    """Run the study's missing runs on ``client`` and write the tables and plots.

    Args:
        study: the study.
        out: output folder (created); ``runs/`` holds one JSON per finished run.
        client: a ``distributed.Client`` (may be None when every run is done).
        on_result: called with (row, done, total) after each new result is written.
    """
    from distributed import as_completed

    t0 = time.perf_counter()
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    have = done_runs(out)
    todo = [r for r in study.runs if r.run_id not in have]
    done = len(study.runs) - len(todo)
    futures = (
        []
        if not todo
        else [
            client.submit(run_one, study.scenario_for(r), r, key=f"gridpeer-run-{r.run_id}")
            for r in todo
        ]
    )
    for fut in as_completed(futures) if futures else ():
        row = fut.result()
        _write_atomic(runs_dir / f"{row['run_id']}.json", json.dumps(row, default=_jsonable))
        done += 1
        if on_result is not None:
            on_result(row, done, len(study.runs))
        fut.release()
    files = write_tables(study, out)
    return SweepOutcome(len(todo), len(study.runs) - len(todo), files, time.perf_counter() - t0)


def _jsonable(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def load_rows(study: Study, out: Path) -> list[dict[str, Any]]:
    """The rows of the study's runs that are done, in grid order."""
    rows = []
    for r in study.runs:
        path = out / "runs" / f"{r.run_id}.json"
        if path.is_file():
            rows.append(json.loads(path.read_text(encoding="utf-8")))
    return rows


def write_tables(study: Study, out: Path) -> list[Path]:
    """``results.parquet``, ``results.csv``, ``summary.csv`` and the plots (module doc)."""
    import pandas as pd

    rows = load_rows(study, out)
    if not rows:
        return []
    df = pd.DataFrame(rows)
    for col in df.columns:  # NaN was written as null
        if df[col].dtype == object and col not in ("design", "mechanism", "run_id"):
            converted = pd.to_numeric(df[col], errors="coerce")
            if converted.notna().sum() == df[col].notna().sum():
                df[col] = converted
    df.to_parquet(out / "results.parquet", index=False)
    df.to_csv(out / "results.csv", index=False)
    summary = confidence_table(df, study.param_keys)
    summary.to_csv(out / "summary.csv", index=False)
    files = [out / "results.parquet", out / "results.csv", out / "summary.csv"]
    files += plot_summary(summary, study, out)
    return files


def _group_columns(param_keys: Sequence[str]) -> list[str]:
    return ["design", *(f"param:{k}" for k in param_keys)]


def confidence_table(df: Any, param_keys: Sequence[str]) -> Any:
    """Per design and parameter combination, per numeric KPI: mean, std, n and the 95 %
    CI half width ``t(0.975, n-1) * std / sqrt(n)`` (NaN with one seed)."""
    import pandas as pd
    from scipy import stats

    groups = _group_columns(param_keys)
    skip = {*ID_COLUMNS, *groups, "elapsed_s", "slots_simulated", "days_simulated"}
    numeric = [
        c
        for c in df.columns
        if c not in skip and pd.api.types.is_numeric_dtype(df[c]) and df[c].dtype != bool
    ]
    out_rows = []
    for key, g in df.groupby(groups, sort=False, dropna=False):
        keys = key if isinstance(key, tuple) else (key,)
        base = dict(zip(groups, keys, strict=True))
        n = len(g)
        for c in numeric:
            vals = g[c].astype(float).dropna()
            m = len(vals)
            mean = float(vals.mean()) if m else math.nan
            std = float(vals.std(ddof=1)) if m > 1 else math.nan
            half = float(stats.t.ppf(0.975, m - 1)) * std / math.sqrt(m) if m > 1 else math.nan
            out_rows.append(
                {**base, "kpi": c, "mean": mean, "std": std, "n": m, "ci95": half, "runs": n}
            )
    return pd.DataFrame(out_rows)


def plot_summary(summary: Any, study: Study, out: Path) -> list[Path]:
    """One bar plot per headline KPI: mean ± 95 % CI per design (bars grouped by
    parameter combination)."""
    from matplotlib.figure import Figure

    groups = _group_columns(study.param_keys)
    files = []
    for kpi in PLOT_KPIS:
        part = summary[summary["kpi"] == kpi]
        if part.empty:
            continue
        designs = list(dict.fromkeys(part["design"]))
        combos = list(dict.fromkeys(tuple(r) for r in part[groups[1:]].itertuples(index=False)))
        fig = Figure(figsize=(max(6.0, 1.1 * len(designs) * max(1, len(combos))), 4.0))
        ax = fig.add_subplot()
        width = 0.8 / max(1, len(combos))
        for j, combo in enumerate(combos):
            sel = part
            for col, val in zip(groups[1:], combo, strict=True):
                sel = sel[sel[col] == val]
            by = sel.set_index("design")
            means = [float(by["mean"].get(d, math.nan)) for d in designs]
            cis = [float(by["ci95"].get(d, math.nan)) for d in designs]
            cis = [0.0 if math.isnan(c) else c for c in cis]
            label = ", ".join(f"{k}={v}" for k, v in zip(study.param_keys, combo, strict=True))
            xs = [i + (j - (len(combos) - 1) / 2) * width for i in range(len(designs))]
            ax.bar(xs, means, width, yerr=cis, capsize=3, label=label or None)
        ax.set_xticks(range(len(designs)), designs, rotation=20)
        ax.set_ylabel(kpi)
        seeds = int(part["n"].max())
        ax.set_title(f"{study.name}: {kpi}, mean ± 95 % CI over {seeds} seed(s)")
        if combos and combos[0]:
            ax.legend(fontsize=8)
        fig.subplots_adjust(bottom=0.2)
        path = out / f"sweep_{kpi}.png"
        fig.savefig(path, dpi=90)
        files.append(path)
    return files
