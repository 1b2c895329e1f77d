"""The flexibility LP: brute-force and closed-form optima, limits, never worse than rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridpeer.devices.ev import EvFleet, EvSessions, charge_uncontrolled
from gridpeer.devices.heatpump import HeatPumps
from gridpeer.devices.schedule import FlexProblem, schedule_cost, solve

TOL = 1e-6


def problem(
    n: int,
    h: int,
    *,
    pv: np.ndarray | None = None,
    load: np.ndarray | None = None,
    buy: np.ndarray | None = None,
    sell: np.ndarray | None = None,
    dt: float = 1.0,
    **kw: object,
) -> FlexProblem:
    z = np.zeros(n)
    zz = np.zeros((n, h))
    args: dict[str, object] = dict(
        dt_h=dt,
        pv_wh=zz if pv is None else pv,
        load_wh=zz if load is None else load,
        buy_price=np.full((n, h), 0.3) if buy is None else buy,
        sell_price=np.full((n, h), 0.1) if sell is None else sell,
        batt_wh=z,
        batt_power_w=z,
        batt_eff=np.ones(n),
        batt_soc_min=z,
        batt_soc_max=np.ones(n),
        batt_start_wh=z,
        ev_wh=z,
        ev_power_w=z,
        ev_eff=np.ones(n),
        ev_v2g=np.zeros(n, dtype=bool),
        ev_start_wh=z,
        ev_home=np.ones((n, h), dtype=bool),
        ev_trip_wh=zz,
        ev_need_wh=zz,
        hp_heat_max_w=zz,
        hp_cop=np.full((n, h), 3.0),
        heat_demand_w=zz,
        tank_wh=z,
        tank_loss_per_h=z,
        tank_start_wh=z,
    )
    args.update(kw)
    return FlexProblem(**args)  # type: ignore[arg-type]


def test_closed_form_arbitrage() -> None:
    # 10 Wh battery, 5 Wh per slot, cheap then dear: charge 10 over two slots, sell 10
    p = problem(
        1,
        4,
        buy=np.array([[0.1, 0.1, 0.5, 0.5]]),
        sell=np.array([[0.05, 0.05, 0.4, 0.4]]),
        batt_wh=np.array([10.0]),
        batt_power_w=np.array([5.0]),
    )
    s = solve(p)
    np.testing.assert_allclose(s["imp"][0], [5, 5, 0, 0], atol=TOL)
    np.testing.assert_allclose(s["exp"][0], [0, 0, 5, 5], atol=TOL)
    assert s.cost[0] == pytest.approx(0.1 * 10 - 0.4 * 10)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    buy=st.lists(st.integers(2, 9), min_size=4, max_size=4),
    gap=st.lists(st.integers(0, 2), min_size=4, max_size=4),
    net=st.lists(st.integers(-3, 3), min_size=4, max_size=4),
    start=st.integers(0, 4),
)
def test_lp_optimum_equals_brute_force(
    buy: list[int], gap: list[int], net: list[int], start: int
) -> None:
    b = np.array([buy], dtype=float)
    s_ = b - np.array([gap], dtype=float)
    load = np.clip(-np.array([net], dtype=float), 0, None)
    pv = np.clip(np.array([net], dtype=float), 0, None)
    p = problem(
        1,
        4,
        pv=pv,
        load=load,
        buy=b,
        sell=s_,
        batt_wh=np.array([4.0]),
        batt_power_w=np.array([2.0]),
        batt_start_wh=np.array([float(start)]),
    )
    lp = solve(p).cost[0]
    best = np.inf
    v_end = s_.mean()
    for moves in itertools.product(range(-2, 3), repeat=4):  # + charge, - discharge
        soc = start + np.cumsum(moves)
        if soc.min() < 0 or soc.max() > 4:
            continue
        grid = load[0] - pv[0] + np.array(moves)
        cost = (b[0] * np.clip(grid, 0, None)).sum() - (s_[0] * np.clip(-grid, 0, None)).sum()
        best = min(best, cost - v_end * soc[-1])
    assert lp == pytest.approx(best, abs=1e-6)


def _random_problem(seed: int, n: int = 4, h: int = 24) -> FlexProblem:
    rng = np.random.default_rng(seed)
    dt = 0.25
    hour = np.arange(h) * dt
    pv = np.clip(np.sin(np.pi * (hour - 1) / 4), 0, None)[None, :] * rng.uniform(0, 1500, (n, 1))
    load = rng.uniform(50, 400, (n, h))
    buy = rng.uniform(0.2, 0.4, (n, h)) / 1000
    sell = buy * rng.uniform(0.2, 1.0, (n, h))
    home = np.ones((n, h), dtype=bool)
    home[:, 8:14] = False
    trip = np.zeros((n, h))
    trip[:, 14] = rng.uniform(0, 8000, n)
    need = np.zeros((n, h))
    need[:, 7] = 0.6 * 40_000
    has_hp = rng.random(n) < 0.5
    return problem(
        n,
        h,
        dt=dt,
        pv=pv * dt,
        load=load * dt,
        buy=buy,
        sell=sell,
        batt_wh=rng.choice([0.0, 5000.0, 10_000.0], n),
        batt_power_w=np.full(n, 2500.0),
        batt_eff=np.full(n, 0.96),
        batt_soc_min=np.full(n, 0.1),
        batt_soc_max=np.full(n, 0.95),
        batt_start_wh=np.full(n, 2500.0),
        ev_wh=rng.choice([0.0, 40_000.0], n),
        ev_power_w=np.full(n, 7400.0),
        ev_eff=np.full(n, 0.92),
        ev_v2g=rng.random(n) < 0.5,
        ev_start_wh=np.full(n, 16_000.0),
        ev_home=home,
        ev_trip_wh=trip,
        ev_need_wh=need,
        hp_heat_max_w=np.full((n, h), 6000.0) * has_hp[:, None],
        hp_cop=np.linspace(2.5, 3.5, h)[None, :].repeat(n, axis=0),
        heat_demand_w=rng.uniform(500, 2500, (n, h)),
        tank_wh=np.full(n, 7000.0) * has_hp,
        tank_loss_per_h=np.full(n, 0.01),
        tank_start_wh=np.full(n, 3500.0),
    )


@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000))
def test_schedule_within_limits_and_balanced(seed: int) -> None:
    p = _random_problem(seed)
    s = solve(p)
    dt = p.dt_h
    for k, v in s.values.items():
        assert (v >= -TOL).all(), k
    cap = p.batt_wh[:, None]
    assert (s["bc"] <= p.batt_power_w[:, None] * dt + TOL).all()
    assert (s["sb"] <= 0.95 * cap + TOL).all() and (s["sb"] >= 0.1 * cap - TOL).all()
    assert (s["ec"][~p.ev_home] <= TOL).all()
    assert (s["ec"] <= p.ev_power_w[:, None] * dt + TOL).all()
    assert (s["ed"][~p.ev_v2g] <= TOL).all()
    assert (s["se"] <= p.ev_wh[:, None] + TOL).all()
    has_ev = p.ev_wh > 0
    assert (s["se"][has_ev, 7] >= 0.6 * 40_000 - TOL).all()  # min SoC at departure
    assert (s["hh"] <= p.hp_heat_max_w * dt + TOL).all()
    cop = p.hp_cop
    balance = (
        p.pv_wh
        - p.load_wh
        - s["bc"]
        + s["bd"]
        - s["ec"]
        + s["ed"]
        - s["hh"] / cop
        + s["imp"]
        - s["exp"]
    )
    np.testing.assert_allclose(balance, 0, atol=1e-5)
    assert ((s["imp"] > TOL) & (s["exp"] > TOL) & (p.sell_price < p.buy_price - 1e-12)).sum() == 0


def _rule_schedule(p: FlexProblem) -> dict[str, np.ndarray]:
    """Self-consumption battery, uncontrolled EV, thermostat tank: the rule-based house."""
    n, h = p.shape
    dt = p.dt_h
    fleet = EvFleet(p.ev_wh, p.ev_power_w, p.ev_v2g, np.full(n, 0.6), p.ev_eff, np.full(n, 180.0))
    sessions = EvSessions(p.ev_home, p.ev_trip_wh, np.full(n, 8))
    soc0 = p.ev_start_wh / np.where(p.ev_wh > 0, p.ev_wh, 1)
    ev = charge_uncontrolled(fleet, sessions, soc0, step_s=int(dt * 3600))
    ec = ev.power_w * dt
    hps = HeatPumps(
        p.hp_heat_max_w[:, 0],
        np.zeros(n),
        p.tank_wh * (p.hp_heat_max_w[:, 0] > 0),
        p.tank_loss_per_h,
    )
    # thermostat on the problem's own demand and COP
    hh = np.zeros((n, h))
    st_ = np.zeros((n, h))
    e = p.tank_start_wh * (p.hp_heat_max_w[:, 0] > 0)
    unmet = np.zeros((n, h))
    for t in range(h):
        kept = e * (1 - p.tank_loss_per_h * dt)
        want = p.heat_demand_w[:, t] * dt + 0.5 * hps.tank_wh - kept
        hh[:, t] = np.clip(want, 0, p.hp_heat_max_w[:, t] * dt)
        e = kept + hh[:, t] - p.heat_demand_w[:, t] * dt
        unmet[:, t] = np.clip(-e, 0, None)
        e = np.clip(e, 0, hps.tank_wh)
        st_[:, t] = e
    unmet *= p.hp_heat_max_w[:, :1] > 0
    net = p.pv_wh - p.load_wh - ec - hh / p.hp_cop
    bc = np.zeros((n, h))
    bd = np.zeros((n, h))
    sb = np.zeros((n, h))
    b = np.clip(p.batt_start_wh, p.batt_soc_min * p.batt_wh, p.batt_soc_max * p.batt_wh)
    for t in range(h):
        room = (p.batt_soc_max * p.batt_wh - b) / p.batt_eff
        avail = (b - p.batt_soc_min * p.batt_wh) * p.batt_eff
        lim = p.batt_power_w * dt
        bc[:, t] = np.clip(np.minimum.reduce([np.clip(net[:, t], 0, None), lim, room]), 0, None)
        bd[:, t] = np.clip(np.minimum.reduce([np.clip(-net[:, t], 0, None), lim, avail]), 0, None)
        b = b + bc[:, t] * p.batt_eff - bd[:, t] / p.batt_eff
        sb[:, t] = b
    grid = net - bc + bd
    se = ev.soc * p.ev_wh[:, None]
    short = np.zeros((n, h))
    short[:, 0] = ev.public_wh
    return {
        "imp": np.clip(-grid, 0, None),
        "exp": np.clip(grid, 0, None),
        "bc": bc,
        "bd": bd,
        "sb": sb,
        "ec": ec,
        "se": se,
        "short": short,
        "hh": hh,
        "st": st_,
        "unmet": unmet,
    }


@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000))
def test_lp_never_costs_more_than_the_rules(seed: int) -> None:
    p = _random_problem(seed)
    p = FlexProblem(**{**p.__dict__, "ev_need_wh": np.zeros_like(p.ev_need_wh)})
    s = solve(p)
    rule = _rule_schedule(p)
    assert (s.cost <= schedule_cost(p, rule) + 1e-6).all()
    np.testing.assert_allclose(s.cost, schedule_cost(p, s.values), rtol=1e-9, atol=1e-9)
