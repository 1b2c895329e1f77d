"""The feeder's AC power flow: analytical two-bus case, pandapower's own LV feeder, and
the simulator's ledger injections."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

pp = pytest.importorskip("pandapower")

from gridpeer.sim.engine import make_config, simulate  # noqa: E402
from gridpeer.sim.feeder import (  # noqa: E402
    RUNPP_OPTIONS,
    FeederError,
    FeederFlow,
    FeederLimits,
    house_buses,
    load_network,
)
from gridpeer.sim.report import write_report  # noqa: E402
from gridpeer.sim.scenario import Feeder, ScenarioError, load_scenario, parse_scenario  # noqa: E402

R_OHM, X_OHM, V_KV = 0.2, 0.08, 0.4


def _two_bus() -> object:
    net = pp.create_empty_network()
    b0 = pp.create_bus(net, vn_kv=V_KV, name="slack")
    b1 = pp.create_bus(net, vn_kv=V_KV, name="house")
    pp.create_ext_grid(net, b0, vm_pu=1.0)
    pp.create_line_from_parameters(
        net, b0, b1, length_km=1.0, r_ohm_per_km=R_OHM, x_ohm_per_km=X_OHM,
        c_nf_per_km=0.0, max_i_ka=0.2, name="cable",
    )  # fmt: skip
    return net


def _analytic(p_w: float, q_var: float) -> tuple[float, float, float]:
    """|V2| (p.u.), losses (W), current (A) of a load P+jQ (3-phase, W/var) fed over R+jX
    (Ω) from a 0.4 kV slack: |V2|⁴ − (V1² − 2(RP+XQ))|V2|² + |Z|²|S|² = 0."""
    v1 = V_KV * 1e3
    a = v1**2 - 2 * (R_OHM * p_w + X_OHM * q_var)
    v2_sq = (a + math.sqrt(a * a - 4 * (R_OHM**2 + X_OHM**2) * (p_w**2 + q_var**2))) / 2
    losses = R_OHM * (p_w**2 + q_var**2) / v2_sq
    current = math.sqrt((p_w**2 + q_var**2) / v2_sq) / math.sqrt(3)
    return math.sqrt(v2_sq) / v1, losses, current


@pytest.mark.parametrize(("wh", "pf"), [(-5000, 1.0), (-12000, 0.9), (7000, 1.0), (0, 1.0)])
def test_two_bus_matches_the_analytical_solution(wh: int, pf: float) -> None:
    """A house drawing (wh < 0) or feeding in (wh > 0) ``|wh|`` Wh in 15 min at the end of
    one cable: voltage, losses and loading against the closed form."""
    net = _two_bus()
    flow = FeederFlow(net, np.array([1], dtype=np.int64), power_factor=pf, slots=1)
    res = flow.step(0, np.array([wh], dtype=np.int64))
    p_load = -wh / 0.25  # W consumed at bus 1
    q_load = p_load * math.tan(math.acos(pf))
    vm, losses, amps = _analytic(p_load, q_load)
    assert res.converged
    assert res.vm_pu[1] == pytest.approx(vm, abs=1e-7)
    assert res.vm_pu[0] == pytest.approx(1.0)
    assert res.losses_w == pytest.approx(losses, rel=1e-5, abs=1e-3)
    assert res.grid_w == pytest.approx(p_load + losses, rel=1e-6, abs=1e-3)
    # loading: the larger of the two ends' currents over max_i_ka; with c = 0 both equal
    assert res.line_pct[0] == pytest.approx(100 * amps / 200.0, rel=1e-5, abs=1e-6)
    if wh > 0:
        assert res.vm_pu[1] > 1.0  # feeding in raises the voltage at the house
    elif wh < 0:
        assert res.vm_pu[1] < 1.0


def _assert_same_flow(res: object, direct: object) -> None:
    """Newton-Raphson stops at a 1e-8 MVA mismatch, so two solves (one of them warm
    started, init="results") agree to about 1e-6 p.u., not to the last bit."""
    np.testing.assert_allclose(res.vm_pu, direct.res_bus.vm_pu.to_numpy(), atol=2e-6)  # type: ignore[attr-defined]
    np.testing.assert_allclose(
        res.line_pct,
        direct.res_line.loading_percent.to_numpy(),
        rtol=1e-4,
        atol=1e-4,  # type: ignore[attr-defined]
    )
    np.testing.assert_allclose(
        res.trafo_pct, direct.res_trafo.loading_percent.to_numpy(), rtol=1e-4
    )  # type: ignore[attr-defined]
    direct_losses = (direct.res_line.pl_mw.sum() + direct.res_trafo.pl_mw.sum()) * 1e6  # type: ignore[attr-defined]
    assert res.losses_w == pytest.approx(direct_losses, rel=1e-4)  # type: ignore[attr-defined]


@pytest.mark.parametrize("preset", ["kerber-dorfnetz", "kerber-landnetz-freileitung-1", "cigre-lv"])
def test_shipped_feeder_base_case_equals_pandapower_called_directly(preset: str) -> None:
    net = load_network(preset)
    # a copy of the very network: pandapower draws the Kerber branch-out cable types at
    # random, so two calls of create_kerber_dorfnetz() differ
    direct = copy.deepcopy(net)
    pp.runpp(direct, **RUNPP_OPTIONS)
    # the network's own loads kept, houses injecting nothing: the base case
    kept = FeederFlow(copy.deepcopy(net), np.array([1]), keep_network_loads=True, slots=3)
    for g in range(3):  # the warm start (init="results") gives the same answer again
        _assert_same_flow(kept.step(g, np.zeros(1, dtype=np.int64)), direct)
    if not preset.startswith("kerber"):
        return
    # Kerber loads are 6 kW at cos phi 1 = 1500 Wh per slot: one "house" per load
    loads = net.load[net.load.in_service]
    wh = -np.rint(loads.p_mw.to_numpy() * 1e6 * 0.25).astype(np.int64)
    assert np.allclose(-wh / 0.25 / 1e6, loads.p_mw.to_numpy())
    assert (loads.q_mvar == 0).all()
    flow = FeederFlow(net, loads.bus.to_numpy(dtype=np.int64), slots=3)
    for g in range(3):
        _assert_same_flow(flow.step(g, wh), direct)


def test_flows_use_the_ledgers_net_injections(tmp_path: Path) -> None:
    sc = load_scenario("village-100").model_copy(update={"feeder": Feeder()})
    r = simulate(make_config(sc, "uniform", houses=40, days=1, seed=2))
    assert r.feeder is not None
    log = r.feeder.log
    h = r.ledger.house
    ledger_injection = h["export_wh"] + h["p2p_sold_wh"] - h["import_wh"] - h["p2p_bought_wh"]
    np.testing.assert_array_equal(log.house_injection_wh, ledger_injection)
    assert h["p2p_sold_wh"].sum() > 0  # trades happened, and they are in the injections
    s = r.ledger.trimmed_series()
    fs = log.trimmed()
    np.testing.assert_array_equal(fs["injection_wh"], s["export_wh"] - s["import_wh"])
    # the upstream grid supplies what the houses draw plus the losses (energy balance, to
    # Newton-Raphson's 1e-8 MW mismatch per bus: < 0.5 Wh per slot on 116 buses)
    np.testing.assert_allclose(fs["grid_wh"], -fs["injection_wh"] + fs["losses_wh"], atol=0.5)
    assert (fs["converged"] == 1).all()
    summary = r.feeder.summary()
    assert summary["feeder_slots"] == 96
    write_report(r, tmp_path)
    assert "Feeder (AC power flow)" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "feeder.csv").read_text().count("\n") == 97
    assert "worst_line" in (tmp_path / "feeder_kpis.csv").read_text()


def test_violations_are_counted_and_the_worst_bus_is_named() -> None:
    net = _two_bus()
    flow = FeederFlow(net, np.array([1, 1]), FeederLimits(0.10, 100.0), slots=3)
    flow.step(0, np.array([100, 0]))  # fine
    flow.step(1, np.array([25000, 25000]))  # 200 kW fed in over 0.2 Ω: ~1.2 p.u., ~240 A
    flow.step(2, np.array([-100, 0]))
    s = flow.summary()
    assert s["violation_slots"] == 1
    assert s["voltage_violation_slots"] == 1
    assert s["line_overload_slots"] == 1
    assert s["vmax_bus"] == "bus 1 (house)"
    assert s["worst_line"] == "line 0 (cable)"
    assert float(s["vmax_pu"]) > 1.1  # type: ignore[arg-type]


def test_house_mapping_and_errors(tmp_path: Path) -> None:
    net = load_network("kerber-landnetz-kabel-1")
    load_buses = list(dict.fromkeys(net.load.bus.tolist()))
    rr = house_buses(net, Feeder(network="x"), 10, 0)
    assert rr.tolist() == [load_buses[k % len(load_buses)] for k in range(10)]
    rnd = house_buses(net, Feeder(mapping="random"), 50, 1)
    assert set(rnd.tolist()) <= set(load_buses)
    assert house_buses(net, Feeder(buses=(3, 5)), 3, 0).tolist() == [3, 5, 3]
    with pytest.raises(FeederError, match="not buses"):
        house_buses(net, Feeder(buses=(999,)), 3, 0)
    with pytest.raises(FeederError, match="neither a preset"):
        load_network("no-such-feeder", str(tmp_path))
    # a network file relative to the scenario file
    pp.to_json(net, str(tmp_path / "mine.json"))
    assert len(load_network("mine.json", str(tmp_path)).bus) == len(net.bus)
    with pytest.raises(ScenarioError, match=r"feeder\.power_factor"):
        parse_scenario(
            'name="x"\n[site]\nlatitude=0\nlongitude=0\n[tariff]\nimport_price=1\n'
            'feed_in_price=0\n[[households]]\nname="a"\nshare=1\n[feeder]\npower_factor=0\n'
        )
