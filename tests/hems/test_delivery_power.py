"""Deliverable power in simulation: the seller's real surplus (PV + battery) limits it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from gridpeer.devices.trace import HouseTrace
from gridpeer.hems.delivery import DeliveryExecutor
from gridpeer.hems.delivery_power import ConstantPower, P2PLine, TracePower
from gridpeer.oracle.rules import delivered_wh
from gridpeer.telemetry.delivery import DeliveryCommand, Direction

T0 = datetime(2026, 6, 1, 13, tzinfo=UTC)


def trace(pv: list[float], load: list[float], soc: list[float]) -> HouseTrace:
    n = len(pv)
    z = np.zeros(n)
    return HouseTrace(
        "h1", T0, 60, np.array(load), np.array(pv), z, z, z, z, np.array(soc), z, z + 230.0
    )


def test_out_power_is_pv_surplus_plus_battery_above_reserve_capped_by_line() -> None:
    tr = trace([3000.0, 3000.0, 500.0, 9000.0], [1000.0, 1000.0, 800.0, 0.0], [0.5, 0.1, 0.1, 0.5])
    p = TracePower(tr, line_max_w=5000.0, bess_max_w=1500.0, reserve_soc=0.2)
    at = [T0 + timedelta(minutes=k) for k in range(4)]
    assert p.power_w(Direction.OUT, at[0]) == 3500.0  # 2000 surplus + 1500 battery
    assert p.power_w(Direction.OUT, at[1]) == 2000.0  # battery at reserve
    assert p.power_w(Direction.OUT, at[2]) == 0.0  # no surplus at all
    assert p.power_w(Direction.OUT, at[3]) == 5000.0  # line rating
    assert p.power_w(Direction.IN, at[2]) == 5000.0  # no shared line: the line rating
    # a fixed trace repeats: 5 h = 75 periods of 4 min, so step 0 again
    assert p.power_w(Direction.OUT, T0 + timedelta(hours=5)) == 3500.0


def test_cloud_makes_the_seller_under_deliver_and_the_rule_settles_it() -> None:
    """1 kWh sold for a 1-hour window; a cloud halves the PV after 20 minutes."""
    pv = [3000.0] * 20 + [1200.0] * 40
    seller = TracePower(trace(pv, [1000.0] * 60, [0.1] * 60))
    buyer = ConstantPower(in_w=3000.0)
    cmd = DeliveryCommand(
        trade_id=1,
        house="h1",
        direction=Direction.OUT,
        target_wh=1000,
        window_start=T0,
        window_end=T0 + timedelta(hours=1),
    )
    out, inn = DeliveryExecutor("h1"), DeliveryExecutor("h1")
    out.accept(cmd)
    inn.accept(cmd.model_copy(update={"direction": Direction.IN}))
    for k in range(61):
        now = T0 + timedelta(minutes=k)
        before = now - timedelta(minutes=1)
        out.step(now, {Direction.OUT: seller.power_w(Direction.OUT, before)}, 60 if k else 0)
        inn.step(now, {Direction.IN: buyer.power_w(Direction.IN, before)}, 60 if k else 0)
    s, b = out.tasks[1].result(), inn.tasks[1].result()
    # 20 min at 2000 W + 40 min at 200 W = 666.7 + 133.3 Wh
    assert s.measured_wh == 800 and s.reason == "window_end"
    assert b.measured_wh == 1000 and b.reason == "target"
    assert delivered_wh(1000, s.measured_wh, b.measured_wh) == 800  # 200 Wh from the grid


def test_shared_line_buyer_reads_what_the_seller_pushes() -> None:
    line = P2PLine()
    seller = TracePower(trace([2500.0], [1000.0], [0.0]), line=line)
    buyer = TracePower(trace([0.0], [700.0], [0.0]), line=line)
    assert buyer.power_w(Direction.IN, T0, {7: 1.0}) == 0.0  # seller has not pushed yet
    assert seller.power_w(Direction.OUT, T0, {7: 1.0}) == 1500.0
    assert buyer.power_w(Direction.IN, T0, {7: 1.0}) == 1500.0
    assert buyer.power_w(Direction.IN, T0, {8: 1.0}) == 0.0  # another trade carries nothing
    seller.release(7)
    assert buyer.power_w(Direction.IN, T0, {7: 1.0}) == 0.0


def test_a_seller_with_two_buyers_splits_its_power_onto_their_trades() -> None:
    line = P2PLine()
    seller = TracePower(trace([2500.0], [1000.0], [0.0]), line=line)
    buyer = TracePower(trace([0.0], [700.0], [0.0]), line=line)
    assert seller.power_w(Direction.OUT, T0, {7: 0.75, 8: 0.25}) == 1500.0
    assert buyer.power_w(Direction.IN, T0, {7: 1.0}) == 1125.0
    assert buyer.power_w(Direction.IN, T0, {8: 1.0}) == 375.0
    assert buyer.power_w(Direction.IN, T0, {7: 0.5, 8: 0.5}) == 1500.0  # one meter, both
