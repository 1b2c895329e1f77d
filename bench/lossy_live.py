"""Benchmark: the live system over emulated lossy links (needs root, ``ip netns``,
/dev/net/tun, Mosquitto and anvil).

Five houses, each in its own network namespace behind the userspace link emulator
(:mod:`gridpeer.netsim.emulation`), the broker, ingest, oracle and chain on the other
side. For every loss × delay point (0/1/5/20 % × 20/200/800 ms, jitter = delay / 10,
both directions) the links are set, then 5 accelerated slots (3 s windows, two trades
each between four different houses) are booked and settled. Per point: delivery command
latency p99 (broker → house, one QoS-1 delivery), reading delay p99 (timestamp → broker),
trades booked / settled in full / short (a missed window: delivered less than booked) /
reclaimed. Over the run: readings lost (published by the sensor nodes, never stored).

With ``--json`` the last line is ``{"points", "readings_lost", "cmd_p99_ms_at_5pct_200ms",
"settled_ratio_at_5pct_200ms", "s"}``.

Writes ``--out`` (default ``lossy-live-results/``): ``emulation.csv``, ``emulation.md``
and PNG plots of command latency p99 (with ns-3's prediction), settled ratio and
reading delay p99 against loss, one line per delay
(:mod:`gridpeer.netsim.emulation.report`).

``--engine ns3`` runs one point over ns-3's simulated Wi-Fi in real time instead (the
houses along a road, ``--spacing`` metres apart, ``--tech`` standard).

Usage: ``python bench/lossy_live.py [--json] [--houses 5] [--slots 5] [--quick]
[--tcp-nodelay] [--out DIR] [--engine ns3 --tech 802.11b --spacing 60]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gridpeer.netsim.emulation.live import LiveCommunity

LOSSES = (0.0, 0.01, 0.05, 0.20)
DELAYS_MS = (20.0, 200.0, 800.0)
SLOT_S = 3
LEAD_S = 10  # s from booking to the first window (booking 10 trades takes a few s)
WH = 10  # per trade: 1 s of the agents' 36 kW (10 Wh/s)


def p99(xs: list[float]) -> float | None:
    return round(float(np.percentile(xs, 99)), 1) if xs else None


@dataclass
class Point:
    """One loss × delay point: its wall-time span (s) and its trades' outcomes."""

    loss: float
    delay_ms: float
    t_a: float
    t_b: float
    booked: int
    settled_full: int
    short: int
    reclaimed: int
    windows: dict[int, tuple[str, str, int]]  # trade id -> seller, buyer, window start (s)


def run_point(com: LiveCommunity, loss: float, delay_ms: float, slots: int) -> Point:
    """Set every house's link, book ``slots`` slots of two trades, wait for them to
    settle (the buyer reclaims what is still open after the grace)."""
    from gridpeer.netsim.emulation.link import LinkParams
    from gridpeer.netsim.emulation.live import wait_for

    if com.rig.engine == "userspace":
        com.rig.set_link(LinkParams(loss, delay_ms, delay_ms / 10))
    t_a = time.time()
    t0 = com.now() + LEAD_S
    n = len(com.names)
    trades: dict[int, int] = {}  # trade id -> booked Wh
    buyers: dict[int, str] = {}
    windows: dict[int, tuple[str, str, int]] = {}
    for k in range(slots):
        start = t0 + SLOT_S * k
        for j in (0, 2):
            seller, buyer = com.names[(k + j) % n], com.names[(k + j + 1) % n]
            tid = com.trade(seller, buyer, WH, start, start + SLOT_S)
            trades[tid], buyers[tid] = WH, buyer
            windows[tid] = (seller, buyer, start)
    end = t0 + SLOT_S * slots
    with contextlib.suppress(AssertionError):  # still open: reclaimed below
        wait_for(
            lambda: all(not com.is_open(t) for t in trades),
            end + com.grace_s + 25 - time.time(),
            "every trade closed",
        )
    reclaimed = 0
    for tid in trades:
        if com.is_open(tid):
            wait_for(lambda: com.now() > end + com.grace_s + 1, 30, "the grace period over")
            com.reclaim(buyers[tid], tid)
            reclaimed += 1
    conf = com.confirmations()
    full = sum(1 for t, wh in trades.items() if t in conf and conf[t][0] == wh)
    short = sum(1 for t, wh in trades.items() if t in conf and conf[t][0] < wh)
    return Point(loss, delay_ms, t_a, time.time(), len(trades), full, short, reclaimed, windows)


def late(p: Point, arrivals: dict[str, float]) -> int:
    """Trades of ``p`` with a command that reached its house after the window's start
    (or never): their window was (partly) missed."""
    n = 0
    for tid, (seller, buyer, start) in p.windows.items():
        at = [arrivals.get(f"{seller}/{tid}/out"), arrivals.get(f"{buyer}/{tid}/in")]
        n += any(a is None or a > start for a in at)
    return n


def ns3_p99(points: list[tuple[float, float]]) -> dict[tuple[float, float], float | None]:
    """ns-3's predicted p99 latency (ms) of a small TCP message on each (loss, delay ms)
    link (:mod:`gridpeer.netsim.emulation.predict`); empty without ns-3."""
    from gridpeer.netsim.commands import ns3_available

    if not ns3_available():
        print("ns-3 not installed: no prediction", file=sys.stderr)
        return {}
    from gridpeer.netsim.emulation.predict import message_latencies_ms

    return {(lo, d): p99(message_latencies_ms(lo, d)) for lo, d in points}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="last line: JSON summary")
    parser.add_argument("--houses", type=int, default=5)
    parser.add_argument("--slots", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="only 5 % loss × 200 ms")
    parser.add_argument(
        "--tcp-nodelay", action="store_true", help="Mosquitto's set_tcp_nodelay (Nagle off)"
    )
    parser.add_argument(
        "--engine",
        choices=["userspace", "ns3"],
        default="userspace",
        help="ns3: one point, the links are ns-3's Wi-Fi in real time (--tech, --spacing)",
    )
    parser.add_argument("--tech", default="802.11g", help="Wi-Fi standard (--engine ns3)")
    parser.add_argument("--spacing", type=float, default=30.0, help="m between houses (ns3)")
    parser.add_argument("--no-ns3", action="store_true", help="skip the ns-3 prediction")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("lossy-live-results"),
        help="report folder: emulation.csv/.md and PNG plots (created)",
    )
    args = parser.parse_args()
    if os.geteuid() != 0 or not Path("/dev/net/tun").exists() or not shutil.which("ip"):
        print("needs root, iproute2 and /dev/net/tun", file=sys.stderr)
        return 2

    from gridpeer.netsim.emulation.link import LinkParams
    from gridpeer.netsim.emulation.live import LiveCommunity
    from gridpeer.netsim.emulation.report import EmulationPoint, write_emulation_report

    points = [(0.05, 200.0)] if args.quick else [(lo, d) for lo in LOSSES for d in DELAYS_MS]
    if args.engine == "ns3":
        points, args.no_ns3 = [(0.0, 0.0)], True  # loss and delay: whatever the channel does
    t_start = time.perf_counter()
    rows: list[Point] = []
    with (
        tempfile.TemporaryDirectory(prefix="gp-lossy-") as tmp,
        LiveCommunity(
            Path(tmp),
            args.houses,
            tcp_nodelay=args.tcp_nodelay,
            engine=args.engine,
            tech=args.tech,
            spacing_m=args.spacing,
        ) as com,
    ):
        print(f"started in {time.perf_counter() - t_start:.0f} s", flush=True)
        for loss, delay in points:
            rows.append(run_point(com, loss, delay, args.slots))
            r = rows[-1]
            print(
                f"  {r.loss:.0%} {r.delay_ms:.0f} ms: {r.settled_full}/{r.booked} in full",
                flush=True,
            )
        if args.engine == "userspace":
            com.rig.set_link(LinkParams())  # a clean link for the last acknowledgements
        m = com.finish()
    predicted = {} if args.no_ns3 else ns3_p99([(r.loss, r.delay_ms) for r in rows])
    print(
        f"{'loss':>5} {'delay':>6} {'cmd p99 ms':>10} {'read p99 ms':>11} "
        f"{'booked':>6} {'full':>4} {'short':>5} {'reclaim':>7} {'late cmd':>8} {'ns-3 p99 ms':>11}"
    )
    ref: tuple[Point, float | None] | None = None
    report: list[EmulationPoint] = []
    for r in rows:
        cmd = p99(m.command_ms_between(r.t_a, r.t_b))
        read = p99(m.reading_delays_between(r.t_a, r.t_b))
        if (r.loss, r.delay_ms) == (0.05, 200.0):
            ref = (r, cmd)
        report.append(
            EmulationPoint(
                r.loss,
                r.delay_ms,
                cmd,
                read,
                r.booked,
                r.settled_full,
                r.short,
                r.reclaimed,
                predicted.get((r.loss, r.delay_ms)),
            )
        )
        print(
            f"{r.loss:>5.0%} {r.delay_ms:>6.0f} {cmd!s:>10} {read!s:>11} "
            f"{r.booked:>6} {r.settled_full:>4} {r.short:>5} {r.reclaimed:>7} "
            f"{late(r, m.arrivals):>8} {predicted.get((r.loss, r.delay_ms))!s:>11}"
        )
    print(
        f"readings published {sum(m.published.values())}, lost {m.readings_lost}; "
        f"commands missing {m.commands_missing}"
    )
    paths = write_emulation_report(report, args.out)
    print(f"report: {', '.join(str(p) for p in paths)}")
    out = {
        "points": len(rows),
        "readings_lost": m.readings_lost,
        "cmd_p99_ms_at_5pct_200ms": ref[1] if ref else None,
        "settled_ratio_at_5pct_200ms": round(ref[0].settled_full / ref[0].booked, 3)
        if ref
        else None,
        "s": round(time.perf_counter() - t_start, 1),
    }
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
