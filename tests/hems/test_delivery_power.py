"""Deliverable power in simulation: the seller's real surplus (PV + battery) limits it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_shared_line_carries_only_while_both_relays_are_closed() -> None:
    line = P2PLine()
    seller = TracePower(trace([2500.0], [1000.0], [0.0]), line=line)  # 1500 W surplus
    buyer = TracePower(trace([0.0], [700.0], [0.0]), line=line)
    assert seller.power_w(Direction.OUT, at(0), {7: 1.0}) == 0.0  # first reading: count starts
    assert seller.power_w(Direction.OUT, at(10), {7: 1.0}) == 0.0  # buyer's relay still open
    assert buyer.power_w(Direction.IN, at(12), {7: 1.0}) == 0.0  # closes now
    assert line.carried_wh(7, at(12)) == 0.0
    # since its reading at 10 s: 12 s at 1500 W = 5 Wh, over 14 s
    assert seller.power_w(Direction.OUT, at(24), {7: 1.0}) == pytest.approx(5.0 * 3600 / 14)
    assert buyer.power_w(Direction.IN, at(36), {7: 1.0}) == 1500.0  # 24 s at 1500 W
    assert line.carried_wh(7, at(36)) == 10.0
    assert buyer.power_w(Direction.IN, at(36), {8: 1.0}) == 0.0  # another trade carries nothing
    seller.release(7)
    assert buyer.power_w(Direction.IN, at(72), {7: 1.0}) == 0.0  # the seller's relay opened
    assert line.carried_wh(7, at(72)) == 10.0


def test_a_seller_with_two_buyers_splits_its_power_onto_their_trades() -> None:
    line = P2PLine()
    seller = TracePower(trace([2500.0], [1000.0], [0.0]), line=line)
    b7 = TracePower(trace([0.0], [700.0], [0.0]), line=line)
    b8 = TracePower(trace([0.0], [700.0], [0.0]), line=line)
    b7.power_w(Direction.IN, at(0), {7: 1.0})
    b8.power_w(Direction.IN, at(0), {8: 1.0})
    seller.power_w(Direction.OUT, at(0), {7: 0.75, 8: 0.25})
    assert b7.power_w(Direction.IN, at(36), {7: 1.0}) == 1125.0
    assert b8.power_w(Direction.IN, at(36), {8: 1.0}) == 375.0
    assert seller.power_w(Direction.OUT, at(36), {7: 0.75, 8: 0.25}) == 1500.0


@given(
    ticks=st.lists(
        st.tuples(st.sampled_from(["s", "b"]), st.floats(0.01, 30.0)), min_size=2, max_size=80
    ),
    target=st.integers(1, 400),
    surplus=st.floats(0.0, 50_000.0),
)
@settings(max_examples=150, deadline=None)
def test_both_meters_of_a_trade_agree_however_their_ticks_interleave(
    ticks: list[tuple[str, float]], target: int, surplus: float
) -> None:
    """Seller and buyer agents step at their own moments; their results are equal."""
    line = P2PLine()
    power = {
        "s": TracePower(trace([surplus + 1000.0], [1000.0], [0.0]), 10**6, line=line),
        "b": TracePower(trace([0.0], [700.0], [0.0]), 10**6, line=line),
    }
    cmd = DeliveryCommand(
        trade_id=1,
        house="h",
        direction=Direction.OUT,
        target_wh=target,
        window_start=T0,
        window_end=at(300),
    )
    ex = {"s": DeliveryExecutor("h"), "b": DeliveryExecutor("h")}
    ex["s"].accept(cmd)
    ex["b"].accept(cmd.model_copy(update={"direction": Direction.IN}))
    last = {"s": T0, "b": T0}
    now = T0
    for who, gap in [*ticks, ("s", 400.0), ("b", 0.0), ("s", 0.0), ("b", 0.0)]:
        now += timedelta(seconds=gap)
        d = Direction.OUT if who == "s" else Direction.IN
        shares = ex[who].shares(d)
        p = {d: power[who].power_w(d, now, shares)} if shares else {}
        for t in ex[who].step(now, p, (now - last[who]).total_seconds()):
            if t.phase.value == "done":
                power[who].release(t.command.trade_id)
        last[who] = now
    s, b = ex["s"].tasks[1].result(), ex["b"].tasks[1].result()
    assert s.measured_wh == b.measured_wh <= target


@given(
    ticks=st.lists(
        st.tuples(st.sampled_from(["s1", "s2", "b1", "b2"]), st.floats(0.01, 30.0)),
        min_size=4,
        max_size=120,
    ),
    targets=st.tuples(st.integers(1, 400), st.integers(1, 400), st.integers(1, 400)),
    surplus=st.tuples(st.floats(0.0, 50_000.0), st.floats(0.0, 50_000.0)),
)
@settings(max_examples=150, deadline=None)
def test_many_to_many_trades_are_metered_per_trade_so_both_sides_agree(
    ticks: list[tuple[str, float]], targets: tuple[int, int, int], surplus: tuple[float, float]
) -> None:
    """s1 sells to b1 and b2, b1 also buys from s2: every house has its own tick times and
    meters each trade from the line's per-trade counter (as the delivery agent does with a
    TradeMeter), so seller and buyer report the same Wh per trade (the last Wh may round
    differently: each side rounds its own window's trades to whole Wh together). A pro-rata
    split of each house's total disagreed here (the 1,000-house demo disputed ~3 % of its
    trades, e.g. 97 vs 62 Wh)."""
    line = P2PLine()
    power = {
        "s1": TracePower(trace([surplus[0] + 1000.0], [1000.0], [0.0]), 10**6, line=line),
        "s2": TracePower(trace([surplus[1] + 1000.0], [1000.0], [0.0]), 10**6, line=line),
        "b1": TracePower(trace([0.0], [700.0], [0.0]), 10**6, line=line),
        "b2": TracePower(trace([0.0], [700.0], [0.0]), 10**6, line=line),
    }
    plan = {1: ("s1", "b1"), 2: ("s1", "b2"), 3: ("s2", "b1")}
    ex = {h: DeliveryExecutor(h) for h in power}
    for (tid, (seller, buyer)), target in zip(plan.items(), targets, strict=True):
        cmd = DeliveryCommand(
            trade_id=tid,
            house=seller,
            direction=Direction.OUT,
            target_wh=target,
            window_start=T0,
            window_end=at(300),
        )
        ex[seller].accept(cmd)
        ex[buyer].accept(cmd.model_copy(update={"house": buyer, "direction": Direction.IN}))
    last = dict.fromkeys(power, T0)
    now = T0
    closing = [(h, 0.0) for h in power] * 2
    for who, gap in [*ticks, ("s1", 400.0), *closing]:
        now += timedelta(seconds=gap)
        d = Direction.OUT if who.startswith("s") else Direction.IN
        shares = ex[who].shares(d)
        counted = power[who].trade_wh(d, now, shares) if shares else None
        per_trade = {d: counted} if counted is not None else {}
        for t in ex[who].step(now, {}, (now - last[who]).total_seconds(), per_trade):
            if t.phase.value == "done":
                power[who].release(t.command.trade_id)
        last[who] = now
    for tid, (seller, buyer) in plan.items():
        s, b = ex[seller].tasks[tid].result(), ex[buyer].tasks[tid].result()
        assert abs(s.measured_wh - b.measured_wh) <= 1, (tid, s.measured_wh, b.measured_wh)
        assert max(s.measured_wh, b.measured_wh) <= targets[tid - 1]
