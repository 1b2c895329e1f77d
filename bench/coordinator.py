"""The coordinator on anvil: a window of signed orders cleared and settled in batches.

    python bench/coordinator.py [--json] [--orders 1000] [--houses 200]

1,000 signed orders from 200 houses (half sellers, half funded buyers; random Wh and
limit prices, fixed seed) go through the coordinator's intake (signature, membership,
nonce and credit checks; stored in SQLite), are cleared at gate closure with the
uniform-price double auction and settled with ``settleBatch`` (split to fit anvil's
30 M gas blocks). A second window has one order per house (the gas target's shape).
The decentralized path (offer + buy + settle) is measured in the same run for
comparison. Targets (issue 13): gas per trade ≤ 25,000 with one order per house per
window; gate closure → all batches mined ≤ 10 s; lost = doubled = 0.
With --json the last line is one JSON object:
``{"orders", "trades", "gas_per_trade", "batches", "gate_to_settled_s", "lost", "doubled",
"gas_per_trade_one_order_per_house", "decentralized_gas_per_trade"}``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridpeer.chain import OrderTerms, Schedule
from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.client import MarketClient
from gridpeer.chain.open import Chain
from gridpeer.chain.types import cost_wei
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.coordinator.service import Coordinator
from gridpeer.store.base import BatchRecord
from gridpeer.store.factory import open_store

PRICE = 100_000_000_000_000  # wei/kWh
GATE_S = 60
TARGETS = {"gas_per_trade_one_order_per_house": 25_000, "gate_to_settled_s": 10.0}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def window(
    chain: Chain,
    market: MarketClient,
    keys: list[Any],
    per_house: int,
    start: int,
    tmp: Path,
    seed: int,
) -> dict[str, Any]:
    """Submit ``per_house`` orders per house for ``[start, start + 900)``, close the gate,
    and measure the settlement."""
    rng = random.Random(seed)
    clock = {"now": start - 3600}
    store = open_store(f"sqlite:///{tmp}/w{seed}.db")
    houses = {k.address: f"h{i + 1}" for i, k in enumerate(keys)}
    coord = Coordinator(
        market, chain.coordinator, houses, "centralized", gate_s=GATE_S,
        now=lambda: clock["now"], store=store,
    )  # fmt: skip
    gas: list[int] = []

    def measure(rec: BatchRecord) -> None:
        assert market.last_receipt is not None
        gas.append(market.last_receipt.gas_used)

    coord.hooks["during"] = measure
    half = len(keys) // 2
    accepted: set[str] = set()
    t0 = time.perf_counter()
    for k in range(per_house):
        for i, key in enumerate(keys):
            sell = i < half
            wh = rng.randint(50, 500)
            price = PRICE * rng.randint(80, 120) // 100
            nonce = market.member(key.address)[2] + 1 + k
            terms = OrderTerms(key.address, sell, wh, price, start, start + 900, nonce, start)
            accepted.add(coord.accept(market.sign_order(key, terms)).id)
    log(f"  {len(accepted)} orders accepted in {time.perf_counter() - t0:.1f} s")
    clock["now"] = start - GATE_S
    t0 = time.perf_counter()
    coord.tick()
    gate_to_settled = time.perf_counter() - t0
    orders = store.orders()
    lost = len(accepted - {o.id for o in orders}) + sum(
        1 for o in orders if o.state not in ("settled", "dropped")
    )
    mined = store.batches(states=["mined"])
    planned: Counter[str] = Counter()
    for b in mined:
        planned.update(json.loads(b.plan)["orders"])
    doubled = sum(n - 1 for n in planned.values())
    trades = sum(b.trades for b in mined)
    store.close()
    return {
        "orders": len(accepted),
        "trades": trades,
        "gas_per_trade": round(sum(gas) / max(1, trades)),
        "batches": len(mined),
        "gate_to_settled_s": round(gate_to_settled, 2),
        "lost": lost,
        "doubled": doubled,
        "reverted": len(store_batches_reverted(tmp, seed)),
    }


def store_batches_reverted(tmp: Path, seed: int) -> list[BatchRecord]:
    s = open_store(f"sqlite:///{tmp}/w{seed}.db")
    try:
        return s.batches(states=["reverted"])
    finally:
        s.close()


def decentralized(chain: Chain, market: MarketClient, keys: list[Any], start: int) -> int:
    """Gas of the decentralized path for one trade: offer + buy + confirm (settle)."""
    s, b = keys[0], keys[-1]
    oid = market.post_offer(s, 100, PRICE, start, start + 900)
    g = market.last_receipt.gas_used if market.last_receipt else 0
    tid = market.buy(b, oid, 100, price=PRICE)
    g += market.last_receipt.gas_used if market.last_receipt else 0
    market.set_time(start + 60)
    market.confirm_delivery(chain.oracle, tid, 100)
    g += market.last_receipt.gas_used if market.last_receipt else 0
    return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print a JSON line last")
    ap.add_argument("--orders", type=int, default=1000, help="orders in the big window")
    ap.add_argument("--houses", type=int, default=200, help="member houses")
    args = ap.parse_args()
    per_house = max(1, args.orders // args.houses)
    with AnvilNode() as node, tempfile.TemporaryDirectory() as tmp:
        chain = Chain(Web3Backend.rpc(node.url))
        market = chain.deploy_market()
        market.set_schedule(chain.admin, Schedule("open"))
        log(f"registering {args.houses} houses...")
        keys = chain.houses(args.houses, market)
        for key in keys[args.houses // 2 :]:
            market.deposit(key, cost_wei(500, 2 * PRICE) * (per_house + 1))
        now = max(market.now(), int(time.time()))
        log(f"window 1: {per_house} orders per house...")
        big = window(chain, market, keys, per_house, now + 7200, Path(tmp), 1)
        log("window 2: one order per house...")
        one = window(chain, market, keys, 1, now + 7200 + 900, Path(tmp), 2)
        dec = decentralized(chain, market, keys, now + 7200 + 1800)
    print(f"{'':<38}{'big window':>12}{'1/house':>12}")
    for k in ("orders", "trades", "gas_per_trade", "batches", "gate_to_settled_s", "lost"):
        print(f"{k:<38}{big[k]:>12}{one[k]:>12}")
    for k in ("doubled", "reverted"):
        print(f"{k:<38}{big[k]:>12}{one[k]:>12}")
    print(f"{'decentralized offer+buy+settle gas':<38}{dec:>12,}")
    checks = {
        "gas/trade (1 order per house) <= 25,000": one["gas_per_trade"]
        <= TARGETS["gas_per_trade_one_order_per_house"],
        "gate -> all batches mined <= 10 s": big["gate_to_settled_s"]
        <= TARGETS["gate_to_settled_s"],
        "lost = doubled = 0": big["lost"] == big["doubled"] == one["lost"] == one["doubled"] == 0,
    }
    for name, ok in checks.items():
        print(f"target {name}: {'met' if ok else 'MISSED'}")
    if args.json:
        out = {k: big[k] for k in ("orders", "trades", "gas_per_trade", "batches")}
        out |= {k: big[k] for k in ("gate_to_settled_s", "lost", "doubled")}
        out["gas_per_trade_one_order_per_house"] = one["gas_per_trade"]
        out["decentralized_gas_per_trade"] = dec
        print(json.dumps(out))


if __name__ == "__main__":
    main()
