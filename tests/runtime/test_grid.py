"""The live feeder of ``demo``/``serve`` (``[grid]``): the flow equals pandapower called
directly on the same injections, violations are found, and bad configs stop with
messages in the user's terms."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from gridpeer.core.clock import Clock
from gridpeer.core.settings import ConfigError, GridSettings, load_settings
from gridpeer.runtime.composition import Parts
from gridpeer.runtime.grid import grid_check, live_feeder
from gridpeer.web.models import HouseInfo, HouseKind

pp = pytest.importorskip("pandapower")
AT = datetime(2026, 3, 10, 12, tzinfo=UTC)
HOUSES = ["h1", "h2", "h3", "h4", "h5"]


@pytest.fixture(scope="module")
def network_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Kerber cable feeder saved once (pandapower draws its cable types at random on
    each build, so both sides of the comparison read the same file)."""
    import pandapower.networks as pn

    path = tmp_path_factory.mktemp("grid") / "feeder.json"
    pp.to_json(pn.create_kerber_landnetz_kabel_1(), str(path))
    return path


def _direct(path: Path, buses: list[int], injection_w: list[float], pf: float) -> Any:
    """pandapower on its own: the network's loads off, one load per house."""
    net = pp.from_json(str(path))
    net.load["in_service"] = False
    tan = math.tan(math.acos(pf))
    for bus, w in zip(buses, injection_w, strict=True):
        pp.create_load(net, bus=bus, p_mw=-w / 1e6, q_mvar=-w * tan / 1e6)
    pp.runpp(net, numba=False)
    return net


@pytest.mark.parametrize("pf", [1.0, 0.9])
def test_live_flow_equals_pandapower_called_directly(network_file: Path, pf: float) -> None:
    grid = GridSettings(
        network=str(network_file), buses={"h2": "loadbus_2_2", "h4": 3}, power_factor=pf
    )
    live = live_feeder(grid, HOUSES)
    buses = live.flow.bus_of_house.tolist()
    # h2 by name, h4 by index, the rest on the load buses in turn (house k on load bus k)
    assert buses == [3, 17, 7, 3, 11]
    for injections in (
        {"h1": 3000.0, "h2": -1500.0, "h3": 800.0, "h4": 0.0, "h5": -4000.0},
        {"h1": 45000.0, "h2": 38000.0, "h3": 40000.0, "h5": 30000.0},  # h4 not reporting
        {"h1": -9000.0, "h2": -12000.0, "h3": -7000.0, "h4": -3000.0, "h5": -5000.0},
    ):
        status = live(injections, AT)
        w = [injections.get(h, 0.0) for h in HOUSES]
        net = _direct(network_file, buses, w, pf)
        vm = net.res_bus.vm_pu.to_numpy()
        assert status.converged
        assert status.reporting == len(injections)
        assert status.injection_w == pytest.approx(sum(w))
        assert status.vmin_pu == pytest.approx(vm.min(), abs=1e-7)
        assert status.vmax_pu == pytest.approx(vm.max(), abs=1e-7)
        assert status.lowest_bus is not None and status.highest_bus is not None
        assert status.lowest_bus.bus == int(net.res_bus.vm_pu.idxmin())
        assert status.highest_bus.bus == int(net.res_bus.vm_pu.idxmax())
        line = net.res_line.loading_percent
        assert status.worst_line is not None and status.worst_trafo is not None
        assert status.worst_line.index == int(line.idxmax())
        assert status.worst_line.loading_pct == pytest.approx(line.max(), rel=1e-6)
        assert status.worst_trafo.loading_pct == pytest.approx(
            net.res_trafo.loading_percent.max(), rel=1e-6
        )
        # to Newton-Raphson's tolerance (pandapower: 1e-8 MVA mismatch per bus, 0.01 W)
        assert status.grid_w == pytest.approx(net.res_ext_grid.p_mw.sum() * 1e6, abs=0.1)
        losses = net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum()
        assert status.losses_w == pytest.approx(losses * 1e6, abs=0.1)
        band, lim = grid.voltage_band, grid.max_loading_pct
        expected = (
            int((np.abs(vm - 1.0) > band).sum())
            + int((line > lim).sum())
            + int((net.res_trafo.loading_percent > lim).sum())
        )
        assert status.violation_count == expected


def test_violations_are_named_worst_first(network_file: Path) -> None:
    end = dict.fromkeys(HOUSES, "loadbus_1_6")  # all at the end of the first branch
    live = live_feeder(GridSettings(network=str(network_file), buses=end), HOUSES)
    quiet = live(dict.fromkeys(HOUSES, 500.0), AT)
    assert quiet.violations == [] and quiet.violation_count == 0
    # 5 x 40 kW fed in at one bus of a 100 kVA transformer's feeder
    status = live(dict.fromkeys(HOUSES, 40_000.0), AT)
    kinds = {v.kind for v in status.violations}
    assert kinds == {"overvoltage", "line_overload", "trafo_overload"}
    assert status.highest_bus is not None and status.highest_bus.houses == 5
    assert status.vmax_pu is not None and status.vmax_pu > 1.1
    assert status.violation_count == len(status.violations)
    # worst first: excess over the band (voltages) or the loading limit
    excess = [
        abs(v.value - v.limit) / (0.1 if v.kind == "overvoltage" else v.limit)
        for v in status.violations
    ]
    assert excess == sorted(excess, reverse=True)
    over = next(v for v in status.violations if v.kind == "overvoltage")
    assert over.element.startswith("bus ") and over.limit == pytest.approx(1.1)
    trafo = next(v for v in status.violations if v.kind == "trafo_overload")
    assert trafo.value > 100.0 and trafo.limit == 100.0


def test_unknown_buses_are_refused_in_the_users_terms(network_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"house h2 is on bus 99, which the network does not"):
        live_feeder(GridSettings(network=str(network_file), buses={"h2": 99}), HOUSES)
    with pytest.raises(ConfigError, match=r"'loadbus_1_9'.*did you mean 'loadbus_1_"):
        live_feeder(GridSettings(network=str(network_file), buses={"h1": "loadbus_1_9"}), HOUSES)
    bad = network_file.parent / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="is not a pandapower network file"):
        live_feeder(GridSettings(network=str(bad)), HOUSES)


def _toml(path: Path, grid: str) -> Path:
    path.write_text(
        'community = "villa"\n[[accounts]]\nid = "h1"\n[[accounts]]\nid = "h2"\n' + grid
    )
    return path


def test_grid_section_is_validated_at_load(tmp_path: Path, network_file: Path) -> None:
    cfg = tmp_path / "community.toml"
    with pytest.raises(ValidationError, match=r"unknown feeder 'kerber-dorf'.*kerber-dorfnetz"):
        load_settings(_toml(cfg, '[grid]\nnetwork = "kerber-dorf"\n'))
    with pytest.raises(ValidationError, match="does not exist"):
        load_settings(_toml(cfg, '[grid]\nnetwork = "feeders/missing.json"\n'))
    with pytest.raises(ValidationError, match=r"grid.buses: h9 is not a house of \[\[accounts\]\]"):
        load_settings(_toml(cfg, '[grid]\nnetwork = "cigre-lv"\nbuses = { h9 = 3 }\n'))
    with pytest.raises(ValidationError, match="Extra inputs"):
        load_settings(_toml(cfg, '[grid]\nnetwork = "cigre-lv"\nfeeder = "x"\n'))
    # a network file relative to the config file
    (tmp_path / "feeders").mkdir()
    (tmp_path / "feeders" / "ours.json").write_bytes(network_file.read_bytes())
    s = load_settings(_toml(cfg, '[grid]\nnetwork = "feeders/ours.json"\nbuses = { h2 = 5 }\n'))
    assert s.grid is not None
    assert Path(s.grid.network) == tmp_path / "feeders" / "ours.json"
    assert s.grid.buses == {"h2": 5}


def test_serve_stops_on_a_bus_the_network_does_not_have(network_file: Path) -> None:
    grid = GridSettings(network=str(network_file), buses={"h1": 42})
    settings = load_settings(None, grid=grid.model_dump())
    parts = Parts(
        settings=settings,
        clock=Clock(start=AT, speed=1.0),
        data_dir=network_file.parent,
        houses=[HouseInfo(id="h1", name="House 1", kind=HouseKind.CONSUMER)],
        traces=[],
    )

    async def start() -> None:
        async with grid_check(parts):
            pass

    with pytest.raises(ConfigError, match="house h1 is on bus 42"):
        asyncio.run(start())


def test_the_example_configs_grid_section_works() -> None:
    import tomllib

    example = Path(__file__).resolve().parents[2] / "community.example.toml"
    lines = example.read_text().splitlines()
    start = lines.index(next(x for x in lines if x.startswith("# [grid]")))
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line[2:])
    grid = GridSettings.model_validate(tomllib.loads("\n".join(block))["grid"])
    live = live_feeder(grid, ["h1", "h2", "h3"])
    assert live.flow.bus_of_house[:2].tolist() == [3, int(_bus(live, "loadbus_1_3"))]
    assert live({"h1": 2000.0}, AT).converged


def _bus(live: Any, name: str) -> int:
    bus = live.flow.net.bus
    return int(bus.index[bus.name == name][0])


def test_the_demo_picks_a_feeder_with_a_load_bus_per_house() -> None:
    from gridpeer.runtime.grid import demo_grid

    assert demo_grid(5) == {"network": "kerber-landnetz-kabel-1"}
    assert demo_grid(50) == {"network": "kerber-dorfnetz"}
    assert demo_grid(1000) == {"network": "kerber-vorstadtnetz-kabel-1"}


def test_a_kerber_feeder_is_the_same_at_every_start() -> None:
    # pandapower draws the Kerber branch-out cables at random: the live feeder seeds it
    grid = GridSettings(network="kerber-dorfnetz")
    a, b = (live_feeder(grid, HOUSES).flow.net.line.std_type.tolist() for _ in range(2))
    assert a == b and len(set(a)) > 1
