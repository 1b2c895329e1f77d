"""Cross-check against the ``pymarket`` package (PyPI 0.7.6) on random books.

* The uniform-price and pay-as-bid auctions allocate the welfare-maximising trades, so
  their social welfare must equal pymarket's LP ``maximum_aggregated_utility`` optimum.
* pymarket's ``maximum_traded_volume`` LP lets any bid trade with any cheaper ask, so it
  bounds the single-price crossing volume from above.
* pymarket's ``percentage_welfare`` rates our auctions' transactions at 100 %.
* pymarket's Huang et al. (2002) auction is a trade-reduction double auction: it never
  trades more than the pay-as-clear volume.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pymarket  # type: ignore[import-untyped]  # a dev dependency: never skipped
import pytest
from pymarket.bids.processing import merge_same_price  # type: ignore[import-untyped]
from pymarket.mechanisms.huang_auction import (  # type: ignore[import-untyped]
    huang_auction,
)
from pymarket.statistics.maximum_aggregated_utility import (  # type: ignore[import-untyped]
    maximum_aggregated_utility,
    percentage_welfare,
)
from pymarket.statistics.maximum_traded_volume import (  # type: ignore[import-untyped]
    maximum_traded_volume,
)

from gridpeer.market.auction import PayAsBid, UniformPrice
from gridpeer.market.clearing import Clearing, GridPrices
from gridpeer.market.orders import OrderArrays

GRID = GridPrices(100, 0)
# pymarket 0.7.6 (2019) and its PuLP use APIs that pandas 3 / PuLP 3 deprecate.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:Converting a Series:Warning"),
    pytest.mark.filterwarnings("ignore:Spaces are not permitted:UserWarning"),
]


def random_book(rng: np.random.Generator, n: int) -> OrderArrays:
    return OrderArrays(
        house=rng.integers(0, 8, n).astype(np.int64),
        is_bid=rng.random(n) < 0.5,
        energy_wh=rng.integers(1, 40, n).astype(np.int64),
        price=rng.integers(0, 25, n).astype(np.int64),
    )


def to_pymarket(b: OrderArrays) -> pd.DataFrame:
    bm = pymarket.BidManager()
    for h, bid, e, p in zip(
        b.house.tolist(), b.is_bid.tolist(), b.energy_wh.tolist(), b.price.tolist(), strict=True
    ):
        bm.add_bid(e, p, h, bid)
    df: pd.DataFrame = bm.get_df()
    return df


def welfare(b: OrderArrays, c: Clearing) -> int:
    """Sum of (bid - ask) * Wh over matches (wei/kWh × Wh)."""
    m = c.matches
    return int(((b.price[m.buy] - b.price[m.sell]) * m.energy_wh).sum())


def quiet(f: Callable[..., Any], *args: object) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return f(*args)


def books(seed: int, count: int) -> list[OrderArrays]:
    rng = np.random.default_rng(seed)
    out: list[OrderArrays] = []
    while len(out) < count:
        b = random_book(rng, int(rng.integers(2, 25)))
        if b.is_bid.any() and (~b.is_bid).any():
            out.append(b)
    return out


@pytest.mark.parametrize("b", books(2026, 40))
def test_welfare_equals_pymarket_lp_optimum(b: OrderArrays) -> None:
    status, objective, _ = quiet(maximum_aggregated_utility, to_pymarket(b))
    assert status == "Optimal"
    ours = welfare(b, UniformPrice().clear(b, GRID))
    assert ours == round(objective or 0)  # integer data: the LP optimum is an integer
    assert welfare(b, PayAsBid().clear(b, GRID)) == ours


@pytest.mark.parametrize("b", books(7, 20))
def test_uniform_volume_is_bounded_by_pymarket_bilateral_lp(b: OrderArrays) -> None:
    status, objective, _ = quiet(maximum_traded_volume, to_pymarket(b))
    assert status == "Optimal"
    assert UniformPrice().clear(b, GRID).volume_wh <= round(objective or 0)


@pytest.mark.parametrize("b", books(11, 30))
def test_huang_auction_trades_no_more_than_pay_as_clear(b: OrderArrays) -> None:
    merged, _ = merge_same_price(to_pymarket(b))
    _, extra = huang_auction(merged)
    ours = UniformPrice().clear(b, GRID)
    traded = float(extra.get("quantity_traded", 0.0))
    assert traded <= ours.volume_wh
    if traded > 0:
        assert ours.price_interval is not None
        assert extra["price_sell"] <= extra["price_buy"]


def to_transactions(c: Clearing) -> pd.DataFrame:
    """Our matches as a pymarket transaction frame (one row per side of each match)."""
    tm = pymarket.TransactionManager()
    m = c.matches
    for b, s, e, p in zip(
        m.buy.tolist(), m.sell.tolist(), m.energy_wh.tolist(), m.price.tolist(), strict=True
    ):
        tm.add_transaction(b, e, p, s, False)
        tm.add_transaction(s, e, p, b, False)
    df: pd.DataFrame = tm.get_df()
    return df


@pytest.mark.parametrize("b", books(99, 15))
def test_pymarket_rates_our_auctions_at_full_welfare(b: OrderArrays) -> None:
    for mech in (UniformPrice(), PayAsBid()):
        c = mech.clear(b, GRID)
        if c.volume_wh == 0:
            continue
        ratio = quiet(percentage_welfare, to_pymarket(b), to_transactions(c))
        if ratio is None:  # pymarket returns None when the optimum welfare is 0
            assert welfare(b, c) == 0
        else:
            assert ratio == pytest.approx(1.0, abs=1e-9)  # pymarket's own float statistic
