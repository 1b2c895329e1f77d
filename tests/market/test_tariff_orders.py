"""Grid tariffs (time of use), fees, order validation and the object-level API."""

from __future__ import annotations

from datetime import UTC, datetime, time

import numpy as np
import pytest

from gridpeer.market.clearing import GridPrices
from gridpeer.market.mechanisms import (
    MECHANISMS,
    clear_orders,
    get_mechanism,
    mechanism_from_config,
)
from gridpeer.market.orders import Order, OrderArrays, Side, index_orders
from gridpeer.market.tariff import Fee, GridTariff, Payer, TariffPeriod
from gridpeer.market.trades import Match

SLOT = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)


def test_time_of_use_tariff_in_local_time_and_round_trip() -> None:
    tou = GridTariff(
        (
            TariffPeriod(time(0), 100, 20),
            TariffPeriod(time(18), 300, 20),
            TariffPeriod(time(22), 100, 10),
        ),
        "America/Santiago",
        (Fee("network", 5, Payer.SPLIT),),
    )
    # 21:30 UTC in January = 18:30 in Santiago (UTC-3): peak
    assert tou.prices_at(datetime(2026, 1, 5, 21, 30, tzinfo=UTC)) == GridPrices(300, 20)
    assert tou.prices_at(datetime(2026, 1, 5, 20, 59, tzinfo=UTC)) == GridPrices(100, 20)
    assert tou.prices_at(datetime(2026, 1, 6, 1, 0, tzinfo=UTC)) == GridPrices(100, 10)
    assert GridTariff.from_dict(tou.to_dict()) == tou
    assert GridTariff.flat(7, 3).prices_at(SLOT) == GridPrices(7, 3)


@pytest.mark.parametrize(
    ("build", "msg"),
    [
        (lambda: GridPrices(5, 6), "feed-in <= import"),
        (lambda: GridTariff((TariffPeriod(time(1), 5, 1),)), "00:00"),
        (lambda: GridTariff.from_dict({"periods": [{"start": "00:00"}]}), "bad tariff"),
        (lambda: Fee("x", -1), ">= 0"),
        (lambda: GridTariff.flat(5, 1).prices_at(datetime(2026, 1, 1)), "timezone-aware"),
    ],
)
def test_bad_tariffs_rejected(build: object, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"energy_wh": 0}, "energy_wh"),
        ({"energy_wh": 1.5}, "integer"),
        ({"price_wei_per_kwh": -1}, "price"),
        ({"id": ""}, "id"),
        ({"house": ""}, "house"),
        ({"slot": datetime(2026, 1, 5)}, "timezone-aware"),
        ({"side": "hold"}, "hold"),
    ],
)
def test_order_validation(kw: dict[str, object], msg: str) -> None:
    base: dict[str, object] = dict(
        id="o1", house="h1", side=Side.BID, energy_wh=10, price_wei_per_kwh=5, slot=SLOT
    )
    base.update(kw)
    with pytest.raises(ValueError, match=msg):
        Order(**base)  # type: ignore[arg-type]


def test_order_arrays_validation() -> None:
    z = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match="energy_wh must be in"):
        OrderArrays(z, np.zeros(2, dtype=np.bool_), z, z)
    with pytest.raises(ValueError, match="dtype"):
        OrderArrays(z, z, z + 1, z)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="length"):
        OrderArrays(z, np.zeros(3, dtype=np.bool_), z + 1, z)


def test_index_orders_rejects_mixed_slots_and_duplicates() -> None:
    a = Order("o1", "h1", Side.BID, 10, 5, SLOT)
    with pytest.raises(ValueError, match="duplicate"):
        index_orders([a, a])
    b = Order("o2", "h1", Side.BID, 10, 5, SLOT.replace(hour=14))
    with pytest.raises(ValueError, match="more than one slot"):
        index_orders([a, b])


def test_object_api_returns_ids_and_payments() -> None:
    orders = [
        Order("b1", "h1", Side.BID, 1500, 150_000, SLOT, priority=1),
        Order("a1", "h2", Side.ASK, 1000, 50_000, SLOT, priority=2),
        Order("a2", "h3", Side.ASK, 1000, 200_000, SLOT, priority=3),
    ]
    clearing, matches = clear_orders(get_mechanism("uniform"), orders, GridPrices(1, 0))
    # interval: A(1000)=50k, B(1001)=150k -> [150k, min(150k, 200k)] -> 150k
    assert matches == [Match("b1", "a1", "h1", "h2", 1000, 150_000)]
    assert matches[0].payment_wei == 150_000
    assert clearing.clearing_price == 150_000


def test_registry_and_config() -> None:
    assert sorted(MECHANISMS) == sorted(
        ["order_book", "uniform", "pay_as_bid", "cda", "mmr", "bill_sharing", "sdr"]
    )
    m = mechanism_from_config({"mechanism": "uniform", "k_num": 1, "k_den": 1})
    assert m.name == "uniform"
    with pytest.raises(ValueError, match="unknown mechanism"):
        get_mechanism("vickrey")
    with pytest.raises(ValueError, match="bad parameters"):
        get_mechanism("cda", k_num=1)
    with pytest.raises(ValueError, match="mechanism"):
        mechanism_from_config({})
