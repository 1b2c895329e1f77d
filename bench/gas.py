"""Gas of every EnergyMarket operation and call throughput of the three backends.

    python bench/gas.py [--json] [--quick]

Gas is measured on the embedded chain (py-evm, the same schedule every node charges;
anvil agrees) and printed next to the thesis's published figures (about 121,234 gas to
create an offer and 175,084 to purchase one, with no escrow and no delivery settlement).
Throughput: raw pyrevm message calls/s, and client transactions/s on pyrevm, embedded
and anvil (started here on a free 127.0.0.1 port and stopped at the end).
With --json the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account.signers.local import LocalAccount

from gridpeer.chain import (
    MarketClient,
    Match,
    OrderTerms,
    Schedule,
    SignedOrder,
    open_chain,
)
from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.codec import encode_call
from gridpeer.chain.open import Chain

THESIS = {"offer": 121_234, "buy": 175_084, "lifecycle": 121_234 + 175_084}
TARGETS = {"lifecycle": 120_000, "batch_per_trade_100": 30_000, "pyrevm_calls_per_s": 20_000}
PRICE = 200_000_000_000_000  # wei/kWh


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def setup(kind: str, houses: int) -> tuple[Chain, MarketClient, list[LocalAccount], int, int]:
    ch = open_chain(kind)
    m = ch.deploy_market()
    hs = ch.houses(houses, m)
    m.set_schedule(ch.admin, Schedule("open"))
    start = (m.now() // 86_400 + 2) * 86_400 + 13 * 3600
    return ch, m, hs, start, start + 3600


def gas(m: MarketClient) -> int:
    assert m.last_receipt is not None
    return m.last_receipt.gas_used


def measure_ops() -> dict[str, int]:
    """Gas of each single operation on the embedded chain (full fills, full delivery)."""
    ch, m, (s, b, *_), start, end = setup("embedded", 2)
    g: dict[str, int] = {}
    oid = m.post_offer(s, 1000, PRICE, start, end)
    g["offer"] = gas(m)
    tid = m.buy(b, oid, 1000, price=PRICE)
    g["buy"] = gas(m)
    rid = m.post_request(b, 1000, PRICE, start, end)
    g["request"] = gas(m)
    t2 = m.fill(s, rid, 1000)
    g["fill"] = gas(m)
    oid3 = m.post_offer(s, 1000, PRICE, start, end)
    m.buy(b, oid3, 400, price=PRICE)
    g["buy_partial"] = gas(m)
    disputed = m.buy(b, m.post_offer(s, 1000, PRICE, start, end), 1000, price=PRICE)
    m.set_time(start + 60)
    m.confirm_delivery(ch.oracle, tid, 1000)
    g["confirm_settle"] = gas(m)
    m.confirm_delivery(ch.oracle, t2, 700)
    g["confirm_partial_delivery"] = gas(m)
    m.open_dispute(ch.oracle, disputed, 1000, 600)
    g["open_dispute"] = gas(m)
    m.resolve_dispute(ch.admin, disputed, 800)
    g["resolve_dispute"] = gas(m)
    m.invalidate_nonce(s, 10)
    g["invalidate_nonce"] = gas(m)
    m.withdraw(s)
    g["withdraw"] = gas(m)
    g["lifecycle"] = g["offer"] + g["buy"] + g["confirm_settle"]
    g["request_lifecycle"] = g["request"] + g["fill"] + g["confirm_settle"]
    return g


def measure_batch(size: int, orders_per_trade: str) -> int:
    """Gas per trade of one batch of ``size`` trades.

    ``"auction"``: a double auction's clearing, where each order is split across at most two
    trades (``size`` trades from about size/2 + 1 sell and buy orders each);
    ``"pairs"``: every trade has its own sell and buy order (2 signatures per trade).
    """
    n_sell = size if orders_per_trade == "pairs" else size // 2 + 1
    n_buy = n_sell
    ch, m, hs, start, end = setup("embedded", n_sell + n_buy)
    sellers, buyers = hs[:n_sell], hs[n_sell:]
    for b in buyers:
        m.deposit(b, 10**18)
    expiry = start
    wh = 100
    orders: list[SignedOrder] = []
    for s in sellers:
        orders.append(
            m.sign_order(s, OrderTerms(s.address, True, 2 * wh, PRICE, start, end, 1, expiry))
        )
    for b in buyers:
        orders.append(
            m.sign_order(b, OrderTerms(b.address, False, 2 * wh, PRICE, start, end, 1, expiry))
        )
    matches: list[Match] = []
    if orders_per_trade == "pairs":
        matches = [Match(i, n_sell + i, wh, PRICE) for i in range(size)]
    else:
        # staircase: seller i fills buyer i, then buyer i+1 (each order in <= 2 trades)
        i = 0
        while len(matches) < size:
            matches.append(Match(i, n_sell + i, wh, PRICE))
            if len(matches) < size:
                matches.append(Match(i, n_sell + i + 1, wh, PRICE))
            i += 1
    m.settle_batch(ch.coordinator, orders, matches)
    return gas(m) // size


def measure_confirm_batch(sizes: tuple[int, ...]) -> tuple[int, dict[str, int]]:
    """Gas per trade of the oracle's settlement: one ``confirmDelivery`` per trade (mean
    over 10) and one ``confirmBatch`` of each size in ``sizes``, on the same kind of trades
    (book trades, full delivery, between houses whose credit is already non-zero: a
    warm-up trade is confirmed first, as in a running community)."""
    ch, m, (s, b, *_), start, end = setup("embedded", 2)
    n_single = 10
    tids = [
        m.buy(b, m.post_offer(s, 1000, PRICE, start, end), 1000, price=PRICE)
        for _ in range(1 + n_single + sum(sizes))
    ]
    m.set_time(start + 60)
    m.confirm_delivery(ch.oracle, tids.pop(0), 1000)  # warm-up: credits become non-zero
    single = 0
    for _ in range(n_single):
        m.confirm_delivery(ch.oracle, tids.pop(0), 1000)
        single += gas(m)
    per_batch: dict[str, int] = {}
    for size in sizes:
        part, tids = tids[:size], tids[size:]
        out = m.confirm_batch(ch.oracle, [(t, 1000) for t in part])
        assert len(out.confirmed) == size and not out.skipped
        per_batch[str(size)] = gas(m) // size
    return single // n_single, per_batch


def throughput_revm_raw(n: int) -> float:
    """Raw pyrevm message calls/s: view calls of ``tradeOf`` on the real bytecode."""
    _ch, m, (s, b, *_), start, end = setup("revm", 2)
    tid = m.buy(b, m.post_offer(s, 1000, PRICE, start, end), 1000)
    evm = m.backend.evm  # type: ignore[attr-defined]
    data = encode_call("tradeOf", tid)
    t0 = time.perf_counter()
    for _ in range(n):
        evm.message_call(s.address, m.address, data, is_static=True)
    return n / (time.perf_counter() - t0)


def throughput_tx(kind: str, n: int) -> float:
    """Client transactions/s: post_offer + buy pairs (each a mined tx) on ``kind``."""
    _ch, m, (s, b, *_), start, end = setup(kind, 2)
    t0 = time.perf_counter()
    for _ in range(n // 2):
        oid = m.post_offer(s, 10, PRICE, start, end)
        m.buy(b, oid, 10, price=PRICE)
    return (n // 2 * 2) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print a JSON line last")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    reps = 100 if args.quick else 400

    log("measuring gas of single operations (embedded)...")
    g = measure_ops()
    batch: dict[str, int] = {}
    batch_pairs: dict[str, int] = {}
    for size in (1, 10, 100):
        log(f"measuring batch settlement, {size} trades...")
        batch[str(size)] = measure_batch(size, "auction")
        batch_pairs[str(size)] = measure_batch(size, "pairs")
    log("measuring the oracle's confirmations: one tx per trade vs confirmBatch...")
    confirm_single, confirm_batch = measure_confirm_batch((1, 10, 50, 100))
    log("measuring throughput...")
    raw = throughput_revm_raw(20 * reps)
    revm_tx = throughput_tx("revm", reps)
    emb_tx = throughput_tx("embedded", reps // 2)
    anvil_tx = float("nan")
    try:
        with AnvilNode() as node:
            anvil_tx = throughput_tx(node.url, reps)
    except FileNotFoundError as exc:
        log(f"{exc}: skipping anvil")

    print(f"{'operation':<34}{'gas':>10}{'thesis':>10}{'ratio':>8}")
    for k in ("offer", "buy", "lifecycle"):
        print(f"{k:<34}{g[k]:>10,}{THESIS[k]:>10,}{g[k] / THESIS[k]:>8.2f}")
    for k in (
        "buy_partial",
        "confirm_settle",
        "confirm_partial_delivery",
        "request",
        "fill",
        "request_lifecycle",
        "withdraw",
        "open_dispute",
        "resolve_dispute",
        "invalidate_nonce",
    ):
        print(f"{k:<34}{g[k]:>10,}")
    for n in batch:
        print(f"{'batch/trade, ' + n + ' trades (auction)':<34}{batch[n]:>10,}")
        print(f"{'batch/trade, ' + n + ' trades (pairs)':<34}{batch_pairs[n]:>10,}")
    print(f"{'confirmDelivery/trade, 1 per tx':<34}{confirm_single:>10,}")
    for n, v in confirm_batch.items():
        label = f"confirmBatch/trade, {n} trades"
        print(f"{label:<34}{v:>10,}{'':>10}{v / confirm_single:>8.2f}")
    print(f"{'pyrevm raw calls/s':<34}{raw:>10,.0f}")
    print(f"{'pyrevm client tx/s':<34}{revm_tx:>10,.0f}")
    print(f"{'embedded client tx/s':<34}{emb_tx:>10,.0f}")
    print(f"{'anvil client tx/s':<34}{anvil_tx:>10,.0f}")
    checks = {
        "lifecycle <= 120,000 gas": g["lifecycle"] <= TARGETS["lifecycle"],
        "batch of 100 <= 30,000 gas/trade": batch["100"] <= TARGETS["batch_per_trade_100"],
        "pyrevm >= 20,000 calls/s": raw >= TARGETS["pyrevm_calls_per_s"],
    }
    for name, ok in checks.items():
        print(f"target {name}: {'met' if ok else 'MISSED'}")
    if args.json:
        out: dict[str, Any] = {
            "offer": g["offer"],
            "buy": g["buy"],
            "confirm_settle": g["confirm_settle"],
            "lifecycle": g["lifecycle"],
            "request": g["request"],
            "fill": g["fill"],
            "withdraw": g["withdraw"],
            "open_dispute": g["open_dispute"],
            "resolve_dispute": g["resolve_dispute"],
            "invalidate_nonce": g["invalidate_nonce"],
            "batch_per_trade": batch,
            "batch_per_trade_pairs": batch_pairs,
            "confirm_single_per_trade": confirm_single,
            "confirm_batch_per_trade": confirm_batch,
            "pyrevm_calls_per_s": round(raw),
            "pyrevm_tx_per_s": round(revm_tx),
            "embedded_tx_per_s": round(emb_tx),
            "anvil_tx_per_s": None if anvil_tx != anvil_tx else round(anvil_tx),
        }
        print(json.dumps(out))


if __name__ == "__main__":
    main()
