"""Flexible households at scale: MPC agents, SARIMA forecasts, EVs, heat pumps, wind, hydro.

Runs a community of 1,000 houses (30 % PV + battery, 20 % EV, 15 % heat pump, one wind
and one hydro producer, the rest PV-only or plain) for 7 days with MPC agents and SARIMA
forecasts under uniform-price clearing, and 100 houses for 365 days; then checks that
the market designs trade different P2P volumes under non-perfect forecasts (100 houses,
4 days, sarima: uniform, pay-as-bid, cda, bill-sharing).

Usage: python bench/sim_flex.py [--json] [--quick]
  --json   last line is {"houses_1000_week_s", "houses_100_year_s", "peak_rss_mb",
           "mpc_solves", "designs_differ"}
  --quick  small sizes (100 houses x 2 days, 20 houses x 14 days) for a smoke test;
           the figures are then not the benchmark's
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from gridpeer.sim.engine import SimResult, make_config, simulate
from gridpeer.sim.scenario import Scenario, parse_scenario

SCENARIO = """
name = "flex-1000"
houses = 1000
seed = 1
market = "uniform"
[site]
name = "Frankfurt"
latitude = 50.1
longitude = 8.7
utc_offset_h = 1
[tariff]
currency = "EUR"
import_price = 0.32
feed_in_price = 0.08
tou = [{start_h = 0, end_h = 6, import_price = 0.22}]
[calendar]
start = 2025-01-06
[strategy]
forecast = "sarima"
dispatch = "mpc"
[[households]]
name = "pv-battery"
share = 0.30
pv_kwp = 6.0
battery_wh = 10000
battery_power_w = 3000
[[households]]
name = "ev"
share = 0.20
pv_kwp = 4.0
ev_kwh = 60
ev_charger_kw = 11
ev_v2g = true
[[households]]
name = "heat-pump"
share = 0.15
pv_kwp = 5.0
heat_pump_kw = 8
heat_loss_w_per_k = 160
[[households]]
name = "wind"
share = 0.001
wind_kw = 50
[[households]]
name = "hydro"
share = 0.001
hydro_kw = 30
hydro_head_m = 15
[[households]]
name = "pv-only"
share = 0.148
pv_kwp = 4.0
[[households]]
name = "plain"
share = 0.20
"""


def scenario() -> Scenario:
    """The benchmark community."""
    return parse_scenario(SCENARIO, "bench/sim_flex.py")


def timed(sc: Scenario, houses: int, days: int, market: str = "uniform") -> tuple[float, SimResult]:
    """Seconds and result of one run."""
    t0 = time.perf_counter()
    r = simulate(make_config(sc, market, houses, days, seed=1))
    return time.perf_counter() - t0, r


def designs_differ(sc: Scenario, houses: int, days: int) -> tuple[bool, dict[str, int]]:
    """Whether P2P volume differs between at least two designs (sarima forecasts)."""
    volumes = {}
    for market in ("uniform", "pay-as-bid", "cda", "bill-sharing"):
        _, r = timed(sc, houses, days, market)
        volumes[market] = int(r.ledger.house["p2p_bought_wh"].sum())
    return len(set(volumes.values())) > 1, volumes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print a JSON line last")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = ap.parse_args()
    sc = scenario()
    big = (100, 2) if args.quick else (1000, 7)
    year = (20, 14) if args.quick else (100, 365)
    week_s, week = timed(sc, *big)
    print(
        f"{big[0]} houses x {big[1]} days (MPC + SARIMA, uniform): {week_s:.1f} s, "
        f"{week.mpc_solves} MPC solves; P2P {week.ledger.house['p2p_bought_wh'].sum() / 1e6:.2f}"
        f" MWh; forecast skill {week.forecast and week.forecast['forecast_skill']:.3f}"
    )
    year_s, yr = timed(sc, *year)
    print(f"{year[0]} houses x {year[1]} days: {year_s:.1f} s, {yr.mpc_solves} MPC solves")
    differ, volumes = designs_differ(sc, 100 if not args.quick else 30, 4 if not args.quick else 3)
    print(f"P2P Wh by design (sarima forecasts): {volumes}; differ: {differ}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    if args.json:
        print(
            json.dumps(
                {
                    "houses_1000_week_s": round(week_s, 2),
                    "houses_100_year_s": round(year_s, 2),
                    "peak_rss_mb": round(rss),
                    "mpc_solves": week.mpc_solves + yr.mpc_solves,
                    "designs_differ": differ,
                }
            )
        )


if __name__ == "__main__":
    main()
