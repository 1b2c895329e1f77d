"""Community simulation at scale: houses x days per second, peak memory.

Runs the ``town-10k`` scenario (15-minute slots, PV + load + battery per house,
uniform-price clearing every slot, settlement none) for 1,000 houses x 1 day and
10,000 houses x 7 days, and extrapolates 10,000 houses x 365 days from the week.
Ratios are printed against (a) a per-house Python loop doing the same slot work,
measured in this run on a small community, and (b) the published gsy-e anchor
(5 houses x 1 day in 85 s on this kind of machine).

Usage: python bench/sim_scale.py [--json] [--year]
  --json  last line is {"houses_1000_day_s", "houses_10k_week_s", "house_slots_per_s",
          "peak_rss_mb"}
  --year  also run 10,000 houses x 365 days (minutes; the by-hand check)
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from gridpeer.sim.engine import make_config, simulate
from gridpeer.sim.scenario import load_scenario

GSY_E_HOUSE_SLOTS_PER_S = 5 * 96 / 85.0  # gsy-e: 5 houses x 1 day (96 slots) in 85 s


def run(houses: int, days: int) -> float:
    """Seconds to simulate ``houses`` x ``days`` of town-10k with uniform clearing."""
    cfg = make_config(load_scenario("town-10k"), "uniform", houses, days, seed=1)
    t0 = time.perf_counter()
    simulate(cfg)
    return time.perf_counter() - t0


def per_house_loop(houses: int, slots: int) -> float:
    """House-slots/s of a plain per-house Python loop doing the same slot work
    (battery dispatch, order prices, sorted double auction, bookkeeping)."""
    rng = np.random.default_rng(0)
    pv = (rng.random((houses, slots)) * 800).tolist()
    load = (rng.random((houses, slots)) * 400).tolist()
    stored = [2500.0] * houses
    bills = [0.0] * houses
    t0 = time.perf_counter()
    for t in range(slots):
        offers: list[tuple[int, int, int]] = []
        bids: list[tuple[int, int, int]] = []
        for h in range(houses):
            net = pv[h][t] - load[h][t]
            if net > 0:
                c = min(net, 625.0, (5000.0 - stored[h]) / 0.95)
                stored[h] += c * 0.95
                net -= c
            else:
                d = min(-net, 625.0, max(stored[h] - 1000.0, 0.0) * 0.95)
                stored[h] -= d / 0.95
                net += d
            if net >= 1:
                offers.append((125_000, h, int(net)))
            elif net <= -1:
                bids.append((-125_000, h, int(-net)))
        offers.sort()
        bids.sort()
        i = j = 0
        while i < len(bids) and j < len(offers) and -bids[i][0] >= offers[j][0]:
            q = min(bids[i][2], offers[j][2])
            bills[bids[i][1]] += q * 0.125
            bills[offers[j][1]] -= q * 0.125
            bids[i] = (bids[i][0], bids[i][1], bids[i][2] - q)
            offers[j] = (offers[j][0], offers[j][1], offers[j][2] - q)
            i += bids[i][2] == 0
            j += offers[j][2] == 0
    return houses * slots / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print a JSON line last")
    ap.add_argument("--year", action="store_true", help="also run 10,000 houses x 365 days")
    args = ap.parse_args()

    run(50, 1)  # warm-up: imports, pvlib
    loop_rate = per_house_loop(1000, 96)
    t_1k = run(1000, 1)
    t_10k = run(10_000, 7)
    rate = 10_000 * 7 * 96 / t_10k
    year_est = t_10k * 365 / 7
    print(f"1,000 houses x 1 day:   {t_1k:7.2f} s   (target <= 10 s)")
    print(f"10,000 houses x 7 days: {t_10k:7.2f} s   -> {rate:,.0f} house-slots/s")
    print(f"10,000 houses x 365 days (extrapolated): {year_est / 60:6.1f} min (target <= 15)")
    print(
        f"per-house Python loop (same run):        {loop_rate:,.0f} house-slots/s "
        f"-> vectorized is {rate / loop_rate:,.0f}x faster"
    )
    print(
        f"gsy-e anchor: {GSY_E_HOUSE_SLOTS_PER_S:.1f} house-slots/s "
        f"-> gridpeer is {rate / GSY_E_HOUSE_SLOTS_PER_S:,.0f}x faster"
    )
    if args.year:
        t_year = run(10_000, 365)
        print(f"10,000 houses x 365 days (measured):     {t_year / 60:6.1f} min")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak RSS: {peak_mb:,.0f} MB (target <= 4096)")
    if args.json:
        print(
            json.dumps(
                {
                    "houses_1000_day_s": round(t_1k, 3),
                    "houses_10k_week_s": round(t_10k, 3),
                    "house_slots_per_s": round(rate, 1),
                    "peak_rss_mb": round(peak_mb, 1),
                }
            )
        )


if __name__ == "__main__":
    main()
