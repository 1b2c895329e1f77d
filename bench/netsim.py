"""Benchmark: wall time of the whole communication-network study (``gridpeer netsim --all``).

Runs every scenario × technology × prosumer count × market × traffic (266 points at
the default 10 simulated seconds each) in 2 worker processes and writes the report
to a temporary folder. Prints the wall time, the number of runs, the summed ns-3
time of the runs, the workers' CPU time, and the ratio to the target (300 s). With
``--json`` the last line is ``{"all_s": ..., "runs": ..., "cpu_s": ...}``.

Usage: ``python bench/netsim.py [--json] [--seconds S] [--workers N]``
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="last line: JSON summary")
    parser.add_argument("--seconds", type=float, default=10.0, help="simulated s per point")
    parser.add_argument("--workers", type=int, default=2, help="ns-3 processes")
    args = parser.parse_args()

    from gridpeer.netsim.commands import INSTALL_HINT, ns3_available

    if not ns3_available():
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    from gridpeer.netsim.report import write_report
    from gridpeer.netsim.results import RunResult
    from gridpeer.netsim.study import study_grid
    from gridpeer.netsim.worker import run_points

    grid = study_grid(seconds=args.seconds)
    done = 0
    t0 = time.perf_counter()

    def progress(_: RunResult) -> None:
        nonlocal done
        done += 1
        if done % 25 == 0 or done == len(grid):
            print(f"  {done}/{len(grid)} runs, {time.perf_counter() - t0:.0f} s", flush=True)

    results = run_points(grid, workers=args.workers, on_result=progress)
    with tempfile.TemporaryDirectory() as tmp:
        write_report(results, Path(tmp))
    all_s = time.perf_counter() - t0
    ns3_s = sum(r.wall_s for r in results)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers and their forked runs
    cpu_s = usage.ru_utime + usage.ru_stime
    print(
        f"netsim --all: {len(results)} runs in {all_s:.1f} s wall "
        f"({ns3_s:.1f} s of ns-3 runs, {args.workers} workers)"
    )
    print(
        f"ratio to target {TARGET_S:.0f} s: {all_s / TARGET_S:.2f} "
        f"({'meets' if all_s <= TARGET_S else 'misses'} target)"
    )
    if args.json:
        print(
            json.dumps({"all_s": round(all_s, 2), "runs": len(results), "cpu_s": round(cpu_s, 2)})
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
