"""Benchmark: uniform-price clearing of random books, and pymarket on the same 10k book.

Usage: ``python bench/clearing.py [--json] [--seed N]``. Prints one line per size; with
``--json`` the last line is ``{"uniform_10k_s", "uniform_100k_s", "uniform_1m_s",
"pymarket_10k_s", "pymarket_ratio_10k"}`` (ratio = pymarket time / gridpeer time, both
measured in this run). gridpeer times are the best of a few runs; pymarket runs once.
Targets: 1M orders in <= 2 s; >= 50x faster than pymarket at 10k orders.

pymarket side: the same book as a pymarket ``BidManager`` frame, then what its
``HuangAuction.run`` does — ``merge_same_price`` and ``huang_auction`` — without the final
``split_transactions_merged_players`` step, which fails under pandas 3 (read-only array).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
import warnings

import numpy as np

from gridpeer.market.auction import UniformPrice
from gridpeer.market.clearing import GridPrices
from gridpeer.market.orders import OrderArrays

GRID = GridPrices(200 * 10**12, 50 * 10**12)


def random_book(n: int, seed: int) -> OrderArrays:
    """n random orders: half bids; 1..5000 Wh; prices 30..250 Twei/kWh (whole Gwei)."""
    rng = np.random.default_rng(seed)
    return OrderArrays(
        house=rng.integers(0, max(n // 2, 1), n, dtype=np.int64),
        is_bid=rng.random(n) < 0.5,
        energy_wh=rng.integers(1, 5001, n, dtype=np.int64),
        price=rng.integers(30_000, 250_001, n, dtype=np.int64) * 10**9,
    )


def time_uniform(book: OrderArrays, repeats: int) -> float:
    """Best wall time of ``repeats`` clearings, s."""
    mech = UniformPrice()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        mech.clear(book, GRID)
        best = min(best, time.perf_counter() - t)
    return best


def time_pymarket(book: OrderArrays) -> float:
    """One pymarket Huang auction on the same book, s (frame building included)."""
    import pymarket
    from pymarket.bids.processing import merge_same_price
    from pymarket.mechanisms.huang_auction import huang_auction

    t = time.perf_counter()
    bm = pymarket.BidManager()
    for h, b, e, p in zip(
        book.house.tolist(),
        book.is_bid.tolist(),
        book.energy_wh.tolist(),
        book.price.tolist(),
        strict=True,
    ):
        bm.add_bid(float(e), float(p), h, b)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        merged, _ = merge_same_price(bm.get_df())
        huang_auction(merged)
    return time.perf_counter() - t


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="end with a JSON line")
    ap.add_argument("--seed", type=int, default=2026, help="random seed")
    args = ap.parse_args(argv)
    out: dict[str, float] = {}
    for label, n, reps in (("10k", 10_000, 20), ("100k", 100_000, 5), ("1m", 1_000_000, 3)):
        book = random_book(n, args.seed)
        s = time_uniform(book, reps)
        out[f"uniform_{label}_s"] = s
        print(f"uniform {n:>9,} orders: {s * 1e3:9.2f} ms", flush=True)
    slot = time_uniform(random_book(20_000, args.seed + 1), 20)
    print(f"uniform    20,000 orders (one simulator slot): {slot * 1e3:.2f} ms", flush=True)
    print("pymarket 10,000 orders (Huang auction, ~20 s) ...", flush=True)
    pm = time_pymarket(random_book(10_000, args.seed))
    out["pymarket_10k_s"] = pm
    out["pymarket_ratio_10k"] = pm / out["uniform_10k_s"]
    print(f"pymarket    10,000 orders: {pm:9.2f} s")
    print(
        f"ratio pymarket/gridpeer at 10k: {out['pymarket_ratio_10k']:,.0f}x (target >= 50x); "
        f"1M orders: {out['uniform_1m_s']:.3f} s (target <= 2 s)"
    )
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
