"""Feeder power flow, grid-aware clearing and a study sweep on Dask.

1. 100 houses of ``village-100`` on a pandapower LV feeder (default: the Kerber
   Landnetz overhead line, voltage band ±5 % to make its midday PV export a stressed
   case; ``--voltage-band 0.1`` for EN 50160's ±10 %) × 7 days: an AC power flow every
   15-minute slot, uniform-price clearing unconstrained and grid-aware. Reports power
   flows per second (pandapower, warm-started, recycled), the wall time of the
   grid-aware week, and the slots with a violation in each run, plus the market-caused
   ones (a violation absent from the power flow of the non-market injections; see
   docs/grid.md: trades do not move physical power in this simulator, so the
   physical violations are the same in both runs).
2. A sweep of the 7 designs × 10 seeds × 100 houses × 7 days on a Dask LocalCluster
   of 2 workers (``gridpeer sweep``'s runner), results in a temporary folder.

Usage: python bench/grid.py [--json] [--quick]
  --json   last line: {"pf_slots_per_s", "houses_100_week_grid_s", "sweep_runs",
           "sweep_s", "violations_unconstrained", "violations_grid_aware", ...}
  --quick  1 day and 2 seeds (a smoke run)
Targets (issue 19): the grid-aware week <= 60 s; the 70-run sweep <= 600 s;
violations_grid_aware <= violations_unconstrained.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

from gridpeer.sim.engine import make_config, simulate
from gridpeer.sim.scenario import MECHANISMS, Feeder, load_scenario
from gridpeer.sim.study import parse_study
from gridpeer.sim.sweep import make_client, run_sweep


def feeder_runs(days: int, network: str, band: float) -> dict[str, float | int]:
    """The unconstrained and the grid-aware week on the feeder."""
    out: dict[str, float | int] = {}
    base = load_scenario("village-100")
    for aware in (False, True):
        spec = Feeder(network=network, voltage_band=band, grid_aware=aware)
        sc = base.model_copy(update={"feeder": spec})
        t0 = time.perf_counter()
        r = simulate(make_config(sc, "uniform", houses=100, days=days, seed=0))
        wall = time.perf_counter() - t0
        assert r.feeder is not None and r.grid_market is not None
        fs, gm = r.feeder.summary(), r.grid_market.summary(r.wei_per_unit)
        tag = "grid_aware" if aware else "unconstrained"
        out[f"violations_{tag}"] = int(fs["violation_slots"])  # type: ignore[call-overload]
        out[f"market_caused_{tag}"] = int(gm["market_caused_violation_slots"])  # type: ignore[call-overload]
        out[f"p2p_wh_{tag}"] = int(r.ledger.house["p2p_sold_wh"].sum())
        out[f"pf_calls_{tag}"] = r.feeder.solves
        if aware:
            out["houses_100_week_grid_s"] = round(wall, 2)
            out["pf_slots_per_s"] = round(r.feeder.solves / r.feeder.solve_s, 1)
            out["grid_aware_fallback_slots"] = int(gm["grid_aware_fallback_slots"])  # type: ignore[call-overload]
            out["curtailed_wh"] = int(gm["curtailed_wh"])  # type: ignore[call-overload]
        else:
            out["houses_100_week_s"] = round(wall, 2)
        print(
            f"{tag:13s} {days} d: {wall:6.1f} s, {r.feeder.solves} power flows "
            f"({r.feeder.solves / r.feeder.solve_s:.0f}/s), violation slots "
            f"{fs['violation_slots']}, market-caused {gm['market_caused_violation_slots']}, "
            f"P2P {out[f'p2p_wh_{tag}']} Wh",
            flush=True,
        )
    return out


def sweep_run(days: int, seeds: int) -> dict[str, float | int]:
    """The designs x seeds sweep on a 2-worker LocalCluster."""
    designs = ", ".join(f'"{d}"' for d in MECHANISMS)
    study = parse_study(
        f'name = "bench"\nscenario = "village-100"\ndesigns = [{designs}]\n'
        f"seeds = {seeds}\nhouses = 100\ndays = {days}\n",
        Path("."),
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        client, cluster = make_client(None, 2)
        try:
            outcome = run_sweep(study, Path(tmp), client)
        finally:
            client.close()
            cluster.close()
        wall = time.perf_counter() - t0
    print(f"sweep: {outcome.computed} runs in {wall:.1f} s (2 workers)", flush=True)
    return {"sweep_runs": outcome.computed, "sweep_s": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print a JSON summary last")
    ap.add_argument("--quick", action="store_true", help="1 day, 2 seeds")
    ap.add_argument("--feeder", default="kerber-landnetz-freileitung-1")
    ap.add_argument("--voltage-band", type=float, default=0.05)
    ap.add_argument("--no-sweep", action="store_true", help="only the feeder part")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    days = 1 if args.quick else 7
    result = feeder_runs(days, args.feeder, args.voltage_band)
    if not args.no_sweep:
        result |= sweep_run(days, 2 if args.quick else 10)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
