"""Market configuration from / to TOML."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest

from gridpeer.market.auction import UniformPrice
from gridpeer.market.calendar import thesis_default
from gridpeer.market.clearing import GridPrices
from gridpeer.market.config import MarketConfig
from gridpeer.market.mechanisms import clear_orders, get_mechanism
from gridpeer.market.orders import Order, Side
from gridpeer.market.settlement import DeviationRule, FixedDeviationPrices

TOML = """
[market]
mechanism = { mechanism = "pay_as_bid", k_num = 1, k_den = 2 }
deviation_rule = "none"
calendar = { kind = "continuous", slot_minutes = 15, gate_closure_minutes = 5 }
[market.tariff]
timezone = "America/Santiago"
periods = [{ start = "00:00", import_wei_per_kwh = 300, feed_in_wei_per_kwh = 100 }]
fees = [{ name = "network", wei_per_kwh = 10, payer = "split" }]
"""


def test_toml_round_trip() -> None:
    cfg = MarketConfig.from_dict(tomllib.loads(TOML)["market"])
    assert cfg.mechanism == get_mechanism("pay_as_bid", k_num=1, k_den=2)
    assert cfg.deviation_rule is DeviationRule.NONE
    assert cfg.calendar.to_dict()["gate_closure_minutes"] == 5
    assert cfg.tariff.prices_at(datetime(2026, 1, 1, tzinfo=UTC)) == GridPrices(300, 100)
    assert MarketConfig.from_dict(cfg.to_dict()) == cfg


def test_explicit_deviation_prices_round_trip() -> None:
    d = {"deviation_rule": {"shortfall_wei_per_kwh": 7, "excess_wei_per_kwh": 3}}
    cfg = MarketConfig.from_dict(d)
    assert cfg.deviation_rule == FixedDeviationPrices(7, 3)
    assert MarketConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="bad explicit prices"):
        MarketConfig.from_dict({"deviation_rule": {"shortfall_wei_per_kwh": 7}})


def test_defaults() -> None:
    cfg = MarketConfig.from_dict({})
    assert cfg.mechanism == UniformPrice()
    assert cfg.calendar == thesis_default()
    assert MarketConfig.from_dict({"mechanism": "cda"}).mechanism.name == "cda"


@pytest.mark.parametrize(
    ("d", "msg"),
    [
        ({"mechanisms": "uniform"}, "unknown \\[market\\] keys"),
        ({"deviation_rule": "penalty"}, "deviation_rule"),
        ({"mechanism": "dutch"}, "unknown mechanism"),
        ({"calendar": {"kind": "monthly"}}, "kind"),
    ],
)
def test_bad_config(d: dict[str, object], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        MarketConfig.from_dict(d)


def test_clear_orders_drops_expired_orders() -> None:
    slot = datetime(2026, 1, 5, 13, tzinfo=UTC)
    gate = slot
    orders = [
        Order("b1", "h1", Side.BID, 100, 10, slot),
        Order("a1", "h2", Side.ASK, 100, 1, slot, expires_at=gate),
        Order("a2", "h3", Side.ASK, 100, 5, slot),
    ]
    _, matches = clear_orders(UniformPrice(), orders, GridPrices(20, 0), live_at=gate)
    assert [m.sell_order for m in matches] == ["a2"]
    assert matches[0].to_dict()["payment_wei"] == 0  # 100 Wh * 7 wei/kWh // 1000
