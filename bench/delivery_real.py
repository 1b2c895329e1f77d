"""Benchmark: trades delivered through emulated smart plugs and meters, settled on chain.

Usage: ``python bench/delivery_real.py [--houses 50] [--trades 200] [--json]``.

A Mosquitto and an anvil on free 127.0.0.1 ports; the market deployed; ``--houses``
houses, half sellers and half buyers, every other one a Tasmota plug or a Shelly Plus 1PM
(emulated: exact documented payloads, wall-time metering, 36 kW through a closed relay).
Each house runs a delivery agent metering its device (``DevicePower``: the relay is
switched by the device's own commands and the delivered Wh are the increase of the
device's energy counter while the relay is confirmed closed); the oracle runs as in
``serve`` (its own RPC connection). The trades are spread over two 15-s windows: every
seller sells to four buyers in each, every buyer buys from four sellers (one relay serves
a window's trades at once, so the meter of each side is shared).

Reported: ``settled`` (confirmed on chain, or disputed and then resolved: there are no
disputes here), ``paid_over_metered_wh`` = Σ over houses of the Wh the contract paid (as
seller) or charged (as buyer) beyond what the house's device metered through its relay,
``doubled`` = trades confirmed twice or accepted twice by an agent, ``lost`` = trades
neither confirmed nor disputed by the end, and p50 / p99 of the settlement time after the
window's end, s (negative: settled before the window ended, once both meters reached the
target). Expected: settled = trades, paid_over_metered_wh = doubled = lost = 0. With
``--json`` the last line is ``{"trades", "settled", "paid_over_metered_wh", "doubled",
"lost", "p99_settle_after_window_s", ...}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.client import MarketClient
from gridpeer.chain.events import DeliveryConfirmed, DisputeOpened
from gridpeer.core.clock import Clock
from gridpeer.devices.emulators.base import Channel, constant
from gridpeer.devices.emulators.shelly import ShellyEmulator
from gridpeer.devices.emulators.tasmota import TasmotaEmulator
from gridpeer.hems.device_power import DevicePower, device_relays
from gridpeer.oracle.service import OracleConfig
from gridpeer.runtime.delivery_runtime import DeliveryRuntime
from gridpeer.telemetry.adapters.bridge import DeviceBridge
from gridpeer.telemetry.adapters.config import DeviceConfig
from gridpeer.telemetry.broker import MosquittoBroker
from gridpeer.telemetry.delivery import DeliveryCommand

PRICE = 10**15  # wei per kWh
RELAY_W = 36_000.0  # through a closed relay: 10 Wh/s
COMMUNITY = "bench"
PER_WINDOW = 4  # trades of each seller (and of each buyer) in one window
WINDOW_S, FIRST_IN_S, GAP_S = 15, 20, 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def device(
    i: int, house: str, role: str, port: int
) -> tuple[DeviceConfig, TasmotaEmulator | ShellyEmulator]:
    """House number ``i``'s relay: a Tasmota plug (even i) or a Shelly Plus 1PM (odd)."""
    channel = Channel(constant(RELAY_W))
    if i % 2 == 0:
        topic = f"p2p-{house}"
        emu: TasmotaEmulator | ShellyEmulator = TasmotaEmulator(
            topic, "127.0.0.1", port, [channel], tele_period_s=1.0, power_delta_w=50.0
        )
        kind = "tasmota"
    else:
        topic = f"shellyplus1pm-{house}"
        emu = ShellyEmulator(topic, "127.0.0.1", port, "plus1pm", [channel], 0.5)
        kind = "shelly-plus1pm"
    return DeviceConfig(kind=kind, topic=topic, role=role, max_power_w=50_000.0), emu


def plan(n_sellers: int, n_buyers: int, trades: int) -> list[tuple[int, int, int, int]]:
    """(window, seller, buyer, Wh) of each trade: seller s sells to buyers s+k+offset."""
    out: list[tuple[int, int, int, int]] = []
    w = 0
    while len(out) < trades:
        for s in range(n_sellers):
            for k in range(PER_WINDOW):
                if len(out) == trades:
                    return out
                b = (s + k + w * PER_WINDOW) % n_buyers
                out.append((w, s, b, 5 + (s * 7 + k * 3 + w) % 16))
        w += 1
    return out


def run(n_houses: int, trades: int, port: int, tmp: Path) -> dict[str, Any]:
    anvil = AnvilNode()
    anvil.start()
    stops: list[Any] = []
    try:
        chain = open_chain(anvil.url)
        market = chain.deploy_market(grace_s=180)
        market.set_schedule(chain.admin, Schedule("open"))
        keys = chain.houses(n_houses, market)
        names = [f"h{i + 1}" for i in range(n_houses)]
        n_sell = n_houses // 2
        roles = ["out" if i < n_sell else "in" for i in range(n_houses)]
        devices, emulators = {}, {}
        for i, h in enumerate(names):
            devices[h], emulators[h] = device(i, h, roles[i], port)
        for e in emulators.values():
            e.start()
            stops.append(e.stop)
        powers: dict[str, DevicePower] = {}
        for h in names:
            bridge = DeviceBridge(
                "127.0.0.1", port, [devices[h]], f"gridpeer-dev-{COMMUNITY}-{h}", COMMUNITY, h
            )
            powers[h] = DevicePower(bridge, device_relays([devices[h]]))
            powers[h].start()
            stops.append(powers[h].stop)
        accepted: dict[tuple[int, str], int] = defaultdict(int)

        def on_command(cmd: DeliveryCommand, new: bool) -> None:
            accepted[(cmd.trade_id, cmd.house)] += int(new)

        clock = Clock(start=datetime.now(UTC), speed=1.0)  # anvil stamps wall time
        config = OracleConfig(
            community=COMMUNITY,
            lead_s=600.0,
            result_grace_s=30.0,
            settle_margin_s=20.0,
            resend_s=1.0,
            poll_s=0.05,
        )
        rt = DeliveryRuntime(
            MarketClient(open_chain(anvil.url).backend, market.address),
            chain.oracle,
            {k.address: h for k, h in zip(keys, names, strict=True)},
            "127.0.0.1",
            port,
            tmp,
            clock,
            config,
            power=powers,
            on_command=on_command,
        )
        rt.start()
        stops.insert(len(emulators), rt.stop)  # stopped before the devices' powers
        log(f"{n_houses} houses up (Tasmota and Shelly, {n_sell} sell, the rest buy)")

        t0 = market.now()
        trades_plan = plan(n_sell, n_houses - n_sell, trades)
        windows = {
            w: (
                t0 + FIRST_IN_S + w * (WINDOW_S + GAP_S),
                t0 + FIRST_IN_S + w * (WINDOW_S + GAP_S) + WINDOW_S,
            )
            for w in {p[0] for p in trades_plan}
        }
        offers: dict[tuple[int, int], int] = {}
        for w, s, _, _ in trades_plan:
            if (w, s) not in offers:
                total = sum(wh for w2, s2, _, wh in trades_plan if (w2, s2) == (w, s))
                offers[(w, s)] = market.post_offer(keys[s], total, PRICE, *windows[w])
        info: dict[int, tuple[str, str, int, int]] = {}
        for w, s, b, wh in trades_plan:
            tid = market.buy(keys[n_sell + b], offers[(w, s)], wh, PRICE)
            info[tid] = (names[s], names[n_sell + b], wh, windows[w][1])
        posted_s = market.now() - t0
        log(f"{len(info)} trades posted in {posted_s} s; windows {sorted(windows.values())}")
        if posted_s >= FIRST_IN_S:
            raise RuntimeError(f"posting took {posted_s} s: the first window had started")

        settled_at: dict[int, float] = {}
        confirmed: dict[int, list[int]] = defaultdict(list)
        disputes: set[int] = set()
        block = 0
        last_end = max(e for _, e in windows.values())
        deadline = last_end + config.result_grace_s + config.settle_margin_s + 30
        while len(settled_at) < len(info) and time.time() < deadline:
            head = market.backend.block_number()
            for ev in market.events(block, head):
                if isinstance(ev, DeliveryConfirmed) and ev.trade_id in info:
                    confirmed[ev.trade_id].append(ev.delivered_wh)
                    settled_at.setdefault(ev.trade_id, time.time())
                elif isinstance(ev, DisputeOpened):
                    disputes.add(ev.trade_id)
            block = head + 1
            time.sleep(0.25)
        rt.stop()
        stops.remove(rt.stop)

        paid: dict[str, int] = defaultdict(int)
        for tid, (seller, buyer, _, _) in info.items():
            if confirmed.get(tid):
                paid[seller] += confirmed[tid][0]
                paid[buyer] += confirmed[tid][0]
        metered = {h: e.channels[0].energy_wh for h, e in emulators.items()}
        over = sum(max(0.0, paid[h] - metered[h]) for h in names)
        after = [settled_at[t] - info[t][3] for t in settled_at]
        doubled = sum(1 for v in confirmed.values() if len(v) > 1)
        doubled += sum(1 for v in accepted.values() if v > 1)
        return {
            "trades": len(info),
            "settled": len(settled_at),
            "paid_over_metered_wh": round(over, 3),
            "doubled": doubled,
            "lost": len(info) - len(settled_at) - len(disputes - set(settled_at)),
            "p99_settle_after_window_s": round(pct(after, 0.99), 2) if after else None,
            "p50_settle_after_window_s": round(pct(after, 0.5), 2) if after else None,
            "disputed": len(disputes),
            "delivered_wh": sum(v[0] for v in confirmed.values()),
            "contracted_wh": sum(wh for _, _, wh, _ in info.values()),
            "houses": n_houses,
        }
    finally:
        for stop in reversed(stops):
            stop()
        anvil.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--houses", type=int, default=50, help="houses (half sell, half buy)")
    p.add_argument("--trades", type=int, default=200, help="trades")
    p.add_argument("--json", action="store_true", help="last line as JSON")
    a = p.parse_args()
    # the dead-man switch opening each IN relay after its trades is expected here
    logging.getLogger("gridpeer.hems.device_power").setLevel(logging.ERROR)
    if a.houses < 2 * PER_WINDOW:
        p.error(f"--houses must be at least {2 * PER_WINDOW}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        broker = MosquittoBroker(free_port(), tmp / "mosq")
        broker.start()
        try:
            t = time.monotonic()
            r = run(a.houses, a.trades, broker.port, tmp)
            r["wall_s"] = round(time.monotonic() - t, 1)
        finally:
            broker.stop()
    print(
        f"{r['houses']} device houses, {r['trades']} trades: settled {r['settled']}, "
        f"paid over metered {r['paid_over_metered_wh']} Wh, doubled {r['doubled']}, "
        f"lost {r['lost']}, disputed {r['disputed']}; settled after the window p50 "
        f"{r['p50_settle_after_window_s']} s, p99 {r['p99_settle_after_window_s']} s "
        f"(delivered {r['delivered_wh']} of {r['contracted_wh']} Wh; {r['wall_s']} s)"
    )
    ok = (
        r["settled"] == r["trades"]
        and r["paid_over_metered_wh"] == 0
        and r["doubled"] == 0
        and r["lost"] == 0
    )
    print(
        "target (settled = trades, nothing paid over metered, none doubled or lost):",
        "met" if ok else "NOT met",
    )
    if a.json:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
