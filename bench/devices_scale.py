"""Devices and profiles at community scale: PV + load + battery dispatch for many houses.

Measures, in this run:
  * 10,000 houses x 1 day at 15-minute steps with the vectorized fleet models
    (``gridpeer.devices.fleet.simulate_fleet_day``), load bank already built;
  * the baseline: the same work house by house (``simulate_house`` per house, 15 min),
    timed on 40 houses and scaled to 10,000; the ratio is baseline / vectorized;
  * with ``--year``: 10,000 houses x 365 days streamed day by day, and peak RSS.

Usage: python bench/devices_scale.py [--houses N] [--year]
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import date

from gridpeer.devices.battery import BatterySpec
from gridpeer.devices.fleet import Fleet, iter_fleet_days, simulate_fleet_day
from gridpeer.devices.house import HouseConfig, simulate_house
from gridpeer.devices.pv import PVArray
from gridpeer.profiles.load import richardson_bank
from gridpeer.profiles.site import VALPARAISO

DAY = date(2025, 1, 15)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--houses", type=int, default=10_000)
    parser.add_argument("--year", action="store_true", help="also stream 365 days")
    args = parser.parse_args()

    t0 = time.perf_counter()
    bank = richardson_bank()
    print(f"load bank (12 households x 7 days, richardsonpy): {time.perf_counter() - t0:.2f} s")

    fleet = Fleet.random(args.houses, seed=1)
    simulate_fleet_day(fleet, VALPARAISO, DAY, seed=1, bank=bank)  # warm caches and imports
    runs = []
    for i in range(3):
        t0 = time.perf_counter()
        simulate_fleet_day(fleet, VALPARAISO, date(2025, 2, 1 + i), seed=1, bank=bank)
        runs.append(time.perf_counter() - t0)
    vectorized = min(runs)
    print(f"{args.houses} houses x 1 day @ 15 min, vectorized: {vectorized:.3f} s (best of 3)")

    sample = 40
    configs = [
        HouseConfig(
            f"b{k}",
            pv=PVArray(float(fleet.kwp[k])) if fleet.kwp[k] > 0 else None,
            battery=BatterySpec.home(float(fleet.batteries.capacity_wh[k]))
            if fleet.batteries.capacity_wh[k] > 0
            else None,
        )
        for k in range(sample)
    ]
    t0 = time.perf_counter()
    for config in configs:
        simulate_house(config, date(2025, 2, 1), step_s=900, seed=1, bank=bank)
    per_house = (time.perf_counter() - t0) / sample
    baseline = per_house * args.houses
    print(f"baseline, house by house: {per_house * 1000:.1f} ms/house -> {baseline:.1f} s")
    print(f"ratio baseline / vectorized: {baseline / vectorized:.1f}x")
    print(f"peak RSS so far: {peak_rss_mib():.0f} MiB")

    if args.year:
        t0 = time.perf_counter()
        energy_wh = 0.0
        for day in iter_fleet_days(fleet, VALPARAISO, date(2025, 1, 1), 365, seed=1, bank=bank):
            energy_wh += float(day.load_w.sum(dtype="float64")) * 0.25
        year = time.perf_counter() - t0
        print(
            f"{args.houses} houses x 365 days @ 15 min: {year:.1f} s "
            f"(anchor 900 s: {year / 900.0:.2f} of budget), peak RSS {peak_rss_mib():.0f} MiB, "
            f"mean load {energy_wh / args.houses / 1000.0:.0f} kWh/house/yr"
        )


if __name__ == "__main__":
    main()
