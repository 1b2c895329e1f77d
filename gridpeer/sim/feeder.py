"""The community's low-voltage feeder: an AC power flow (pandapower) per slot.

A :class:`FeederFlow` holds one pandapower network for the whole run: the network's
own loads are switched off (unless the scenario keeps them as non-member load) and one
load element per bus that carries houses is added. Each slot, the houses' net
injections (Wh per 15-minute slot, positive = fed into the feeder) are summed per bus,
turned into average power (W = Wh / 0.25 h) and written into those load elements in
place (a negative load is a net injection); pandapower then runs a Newton-Raphson AC
power flow warm-started from the previous slot's result (``init="results"``, reusing
its admittance matrix: ``recycle``). Per
slot the :class:`FeederLog` keeps the lowest and highest bus voltage (per unit), the
highest line and transformer loading (%), the losses (Wh) and the violations (voltage
outside ``1 ± band``, loading above the limit); per bus and per line the extremes of
the run, so the report can name the worst bus and line.

Units: energy Wh, power W (pandapower works in MW and Mvar), voltage per unit of the
bus's nominal voltage, loading in % of the element's rating.
"""

from __future__ import annotations

import difflib
import logging
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gridpeer.core.defaults import FEEDER_PRESETS
from gridpeer.market.grid_aware import LinearFeeder
from gridpeer.sim.scenario import Feeder

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
SLOT_H = 0.25
"""Slot length, hours (Wh per slot / SLOT_H = average W)."""
_PRESET_FUNCTIONS = {
    "kerber-landnetz-freileitung-1": "create_kerber_landnetz_freileitung_1",
    "kerber-landnetz-kabel-1": "create_kerber_landnetz_kabel_1",
    "kerber-dorfnetz": "create_kerber_dorfnetz",
    "kerber-vorstadtnetz-kabel-1": "create_kerber_vorstadtnetz_kabel_1",
    "cigre-lv": "create_cigre_network_lv",
}
assert set(_PRESET_FUNCTIONS) == set(FEEDER_PRESETS)
RUNPP_OPTIONS: dict[str, Any] = {"numba": False, "check_connectivity": False}
"""Options of every ``pandapower.runpp`` call here (numba is not a dependency)."""
RECYCLE = {"trafo": False, "gen": False, "bus_pq": True}
"""pandapower's time-series reuse: only the loads' P and Q change between slots, so the
admittance matrix and the index maps of the previous solve are kept (about 2x faster)."""


class FeederError(ValueError):
    """The feeder cannot be built (unknown network, bad bus mapping)."""


def load_network(network: str, base_dir: str = ".") -> Any:
    """A pandapower network: a preset name of :data:`FEEDER_PRESETS` or a file path
    (``.json``, ``.p``/``.pkl``, ``.xlsx``; relative paths against ``base_dir``)."""
    logging.getLogger("pandapower").setLevel(logging.WARNING)  # no INFO lines on import
    import pandapower as pp
    import pandapower.networks as pn

    if network in _PRESET_FUNCTIONS:
        return getattr(pn, _PRESET_FUNCTIONS[network])()
    path = Path(network)
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        raise FeederError(
            f"feeder network {network!r} is neither a preset ({', '.join(FEEDER_PRESETS)}) "
            f"nor a file ({path})"
        )
    readers = {".json": pp.from_json, ".p": pp.from_pickle, ".pkl": pp.from_pickle}
    readers[".xlsx"] = pp.from_excel
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise FeederError(f"feeder network file {path}: use .json, .p, .pkl or .xlsx")
    return reader(str(path))


def house_buses(net: Any, spec: Feeder, houses: int, seed: int) -> I64:
    """The bus index (pandapower's ``net.bus`` index) of each house (see :class:`Feeder`)."""
    if spec.buses:
        known = set(net.bus.index.tolist())
        bad = [b for b in spec.buses if b not in known]
        if bad:
            raise FeederError(f"feeder.buses: {bad} are not buses of the network")
        pool = np.asarray(spec.buses, dtype=np.int64)
        return pool[np.arange(houses) % pool.size]
    pool = np.asarray(list(dict.fromkeys(net.load.bus.tolist())), dtype=np.int64)
    if pool.size == 0:
        raise FeederError("the feeder network has no loads: give feeder.buses explicitly")
    if spec.mapping == "random":
        rng = np.random.default_rng([seed, 11])
        return pool[rng.integers(0, pool.size, houses)]
    return pool[np.arange(houses) % pool.size]


def named_house_buses(net: Any, houses: list[str], buses: dict[str, int | str]) -> I64:
    """The bus index (``net.bus`` index) of each house of ``houses``: ``buses[house]`` (a
    bus index or a bus name) when given, else the network's load buses in turn (house k
    on load bus ``k mod n``, ``k`` its position in ``houses``).

    Raises:
        FeederError: a bus the network does not have, or no load buses for the houses
            without one (the message names the house and the network's buses).
    """
    index = [int(b) for b in net.bus.index.tolist()]
    names = {str(n): int(b) for b, n in zip(index, net.bus["name"].tolist(), strict=True) if n}
    pool = list(dict.fromkeys(int(b) for b in net.load.bus.tolist()))
    out = []
    for k, house in enumerate(houses):
        bus = buses.get(house)
        if bus is None:
            if not pool:
                raise FeederError(
                    f"house {house} has no bus and the network has no loads to spread the "
                    "houses over: give every house its bus in [grid] buses"
                )
            out.append(pool[k % len(pool)])
        elif isinstance(bus, int) or (bus.isdigit() and bus not in names):
            if int(bus) not in index:
                raise FeederError(
                    f"house {house} is on bus {bus}, which the network does not have "
                    f"(its buses: {_ranges(index)}; load buses: {_ranges(pool) or 'none'})"
                )
            out.append(int(bus))
        elif bus in names:
            out.append(names[bus])
        else:
            close = difflib.get_close_matches(bus, list(names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise FeederError(
                f"house {house} is on bus {bus!r}, but no bus of the network has that "
                f"name{hint}; give a bus name or index (its buses: {_ranges(index)})"
            )
    return np.asarray(out, dtype=np.int64)


def _ranges(values: list[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` → ``"0-2, 5, 7-8"``."""
    runs: list[list[int]] = []
    for v in sorted(set(values)):
        if runs and runs[-1][1] == v - 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


@dataclass
class SlotFlow:
    """The power flow of one slot.

    Attributes:
        converged: False when Newton-Raphson did not converge (the other fields NaN).
        vm_pu: voltage per bus, per unit (in ``net.bus`` order).
        line_pct: loading per line, % of its rated current.
        trafo_pct: loading per transformer, % of its rated power.
        losses_w: active losses of lines and transformers, W.
        grid_w: active power drawn from the external grid, W (negative = export).
        line_sign, trafo_sign: direction of each line's (from → to) and transformer's
            (HV → LV) active power, ±1.
    """

    converged: bool
    vm_pu: F64
    line_pct: F64
    trafo_pct: F64
    losses_w: float
    grid_w: float
    line_sign: F64 = field(default_factory=lambda: np.zeros(0))
    trafo_sign: F64 = field(default_factory=lambda: np.zeros(0))

    def violations(self, limits: FeederLimits) -> npt.NDArray[np.bool_]:
        """Violation flags, one per quantity of :meth:`FeederFlow.linear` (voltage above
        the band per bus, below the band per bus, overloaded line, overloaded
        transformer); all False when the flow did not converge."""
        band, lim = limits.voltage_band, limits.max_loading_pct
        return np.concatenate(
            (
                self.vm_pu > 1.0 + band,
                self.vm_pu < 1.0 - band,
                self.line_pct > lim,
                self.trafo_pct > lim,
            )
        )


@dataclass
class FeederLog:
    """Per-slot series and per-element extremes of a run's power flows."""

    slots: int
    buses: int
    lines: int
    trafos: int
    houses: int
    series: dict[str, F64] = field(init=False)
    bus_vmin: F64 = field(init=False)
    bus_vmax: F64 = field(init=False)
    line_max: F64 = field(init=False)
    trafo_max: F64 = field(init=False)
    house_injection_wh: I64 = field(init=False)
    slots_done: int = 0

    SERIES = (
        "vmin_pu",
        "vmax_pu",
        "line_max_pct",
        "trafo_max_pct",
        "losses_wh",
        "grid_wh",
        "injection_wh",
        "buses_out_of_band",
        "lines_overloaded",
        "trafos_overloaded",
        "converged",
    )

    def __post_init__(self) -> None:
        self.series = {k: np.full(self.slots, np.nan) for k in self.SERIES}
        self.bus_vmin = np.full(self.buses, np.inf)
        self.bus_vmax = np.full(self.buses, -np.inf)
        self.line_max = np.zeros(self.lines)
        self.trafo_max = np.zeros(self.trafos)
        self.house_injection_wh = np.zeros(self.houses, dtype=np.int64)

    def trimmed(self) -> dict[str, F64]:
        """The series of the slots done."""
        return {k: v[: self.slots_done] for k, v in self.series.items()}


@dataclass(frozen=True)
class FeederLimits:
    """Operating limits: voltage band (± per unit around 1.0) and loading limit (%)."""

    voltage_band: float = 0.10
    max_loading_pct: float = 100.0


class FeederFlow:
    """One pandapower network updated in place and solved per slot (see module doc)."""

    def __init__(
        self,
        net: Any,
        buses: I64,
        limits: FeederLimits = FeederLimits(),
        power_factor: float = 1.0,
        keep_network_loads: bool = False,
        slots: int = 0,
    ) -> None:
        import pandapower as pp

        self.net = net
        self.limits = limits
        self.tan_phi = math.tan(math.acos(power_factor))
        if not keep_network_loads:
            net.load["in_service"] = False
        used, self.house_element = np.unique(buses, return_inverse=True)
        self.bus_of_house = buses
        self.elements = np.asarray(
            [
                pp.create_load(net, bus=int(b), p_mw=0.0, q_mvar=0.0, name=f"gridpeer@{b}")
                for b in used.tolist()
            ],
            dtype=np.int64,
        )
        self.bus_names = [str(x) for x in net.bus["name"].fillna("").tolist()]
        self.bus_index = net.bus.index.to_numpy()
        self.line_names = [str(x) for x in net.line["name"].fillna("").tolist()]
        self.line_index = net.line.index.to_numpy()
        self.trafo_names = [str(x) for x in net.trafo["name"].fillna("").tolist()]
        self.log = self.start(slots)
        self._warm = False
        self._sens: F64 | None = None
        self.solves = 0
        self.solve_s = 0.0  # wall time spent in solve(), s (bench/grid.py)

    def start(self, slots: int) -> FeederLog:
        """A fresh :attr:`log` for a run of ``slots`` slots (also returned)."""
        net = self.net
        self.log = FeederLog(slots, len(net.bus), len(net.line), len(net.trafo), self.houses)
        return self.log

    @property
    def houses(self) -> int:
        """Number of houses mapped to the feeder."""
        return int(self.bus_of_house.size)

    def solve(self, injection_wh: I64) -> SlotFlow:
        """AC power flow of one slot's net injections (Wh per house, + = into the feeder)."""
        t0 = time.perf_counter()
        try:
            return self._solve(injection_wh)
        finally:
            self.solves += 1
            self.solve_s += time.perf_counter() - t0

    def solve_power(self, injection_w: F64) -> SlotFlow:
        """AC power flow of the houses' net injections now (W per house, + = into the
        feeder), e.g. the live meters' readings."""
        t0 = time.perf_counter()
        try:
            p_mw = np.bincount(self.house_element, injection_w, self.elements.size) / 1e6
            return self._solve_mw(p_mw)
        finally:
            self.solves += 1
            self.solve_s += time.perf_counter() - t0

    def _solve(self, injection_wh: I64) -> SlotFlow:
        p_mw = np.bincount(self.house_element, injection_wh, self.elements.size) / SLOT_H / 1e6
        return self._solve_mw(p_mw)

    def _solve_mw(self, p_mw: F64) -> SlotFlow:
        """The flow with ``p_mw`` injected at each house bus's load element, MW."""
        import pandapower as pp

        net = self.net
        net.load.loc[self.elements, "p_mw"] = -p_mw
        net.load.loc[self.elements, "q_mvar"] = -p_mw * self.tan_phi
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if self._warm:  # previous slot's voltages and internal matrices reused
                    pp.runpp(net, init="results", recycle=RECYCLE, **RUNPP_OPTIONS)
                else:
                    pp.runpp(net, init="auto", **RUNPP_OPTIONS)
        except pp.LoadflowNotConverged:
            self._warm = False
            nan = np.full
            return SlotFlow(
                False,
                nan(len(net.bus), np.nan),
                nan(len(net.line), np.nan),
                nan(len(net.trafo), np.nan),
                math.nan,
                math.nan,
            )
        self._warm = True
        losses = float(net.res_line.pl_mw.sum()) + float(net.res_trafo.pl_mw.sum())
        return SlotFlow(
            True,
            net.res_bus.vm_pu.to_numpy(dtype=np.float64),
            net.res_line.loading_percent.to_numpy(dtype=np.float64),
            net.res_trafo.loading_percent.to_numpy(dtype=np.float64),
            losses * 1e6,
            float(net.res_ext_grid.p_mw.sum()) * 1e6,
            np.where(net.res_line.p_from_mw.to_numpy(dtype=np.float64) < 0, -1.0, 1.0),
            np.where(net.res_trafo.p_hv_mw.to_numpy(dtype=np.float64) < 0, -1.0, 1.0),
        )

    # ------------------------------------------------------------ grid-aware market

    def sensitivities(self) -> F64:
        """Change of every quantity per Wh (per slot) net-injected by each house: rows
        are bus voltages (p.u., twice: for the upper and the lower limit), signed line
        loadings (%, + = from → to) and signed transformer loadings (%, + = HV → LV);
        columns are houses. By finite differences of the AC power flow around the
        no-injection point (1 kW more at each house bus in turn), computed once."""
        if self._sens is not None:
            return self._sens
        zero = np.zeros(self.houses, dtype=np.int64)
        base = self.solve(zero)
        if not base.converged:
            raise FeederError("the feeder's power flow does not converge without injections")
        step_wh = 250  # 1 kW for a 15-minute slot
        per_element = []
        for e in range(self.elements.size):
            inj = np.zeros(self.houses, dtype=np.int64)
            inj[np.flatnonzero(self.house_element == e)[0]] = step_wh
            f = self.solve(inj)
            if not f.converged:
                raise FeederError("the feeder's power flow does not converge at 1 kW")
            d_line = f.line_pct * f.line_sign - base.line_pct * base.line_sign
            d_trafo = f.trafo_pct * f.trafo_sign - base.trafo_pct * base.trafo_sign
            dv = f.vm_pu - base.vm_pu
            per_element.append(np.concatenate((dv, dv, d_line, d_trafo)) / step_wh)
        sens_e = np.stack(per_element, axis=1)  # (k, elements)
        self._sens = np.ascontiguousarray(sens_e[:, self.house_element])
        self._warm = False
        return self._sens

    def linear(self, flow: SlotFlow) -> LinearFeeder:
        """The slot's linearised feeder at the operating point ``flow`` (see
        :mod:`gridpeer.market.grid_aware`); quantities as in :meth:`sensitivities`."""
        band, lim = self.limits.voltage_band, self.limits.max_loading_pct
        nb, nl, nt = flow.vm_pu.size, flow.line_pct.size, flow.trafo_pct.size
        inf = np.inf
        value = np.concatenate(
            (
                flow.vm_pu,
                flow.vm_pu,
                flow.line_pct * flow.line_sign,
                flow.trafo_pct * flow.trafo_sign,
            )
        )
        lo = np.concatenate((np.full(nb, -inf), np.full(nb, 1.0 - band), np.full(nl + nt, -lim)))
        hi = np.concatenate((np.full(nb, 1.0 + band), np.full(nb, inf), np.full(nl + nt, lim)))
        return LinearFeeder(self.sensitivities(), value, lo, hi)

    def path_resistance(self) -> F64:
        """Resistance of the network path between every two houses' buses, Ω (lines and
        transformers, from pandapower's topology graph; 0 on the same bus)."""
        import networkx as nx
        import pandapower.topology as top

        graph = top.create_nxgraph(self.net, calc_branch_impedances=True, multi=False)
        used = self.bus_of_house[np.unique(self.house_element, return_index=True)[1]]
        dist = np.zeros((used.size, used.size))
        for i, b in enumerate(used.tolist()):
            lengths = nx.single_source_dijkstra_path_length(graph, b, weight="r_ohm")
            dist[i] = [lengths.get(int(c), np.inf) for c in used.tolist()]
        return dist[np.ix_(self.house_element, self.house_element)]

    def branch_zones(self) -> I64:
        """Zone per house: the feeder branch it hangs on (the connected parts of the
        network left when the transformers' LV buses are removed; labels in the order of
        each part's lowest bus); a house on an LV busbar itself forms its own zone."""
        import networkx as nx
        import pandapower.topology as top

        graph = top.create_nxgraph(self.net, include_trafos=False, multi=False)
        graph.remove_nodes_from(self.net.trafo.lv_bus.tolist())
        comps = sorted(nx.connected_components(graph), key=min)
        zone_of_bus = {b: z for z, comp in enumerate(comps) for b in comp}
        extra = len(comps)
        zones = []
        for b in self.bus_of_house.tolist():
            if b not in zone_of_bus:
                zone_of_bus[b] = extra
                extra += 1
            zones.append(zone_of_bus[b])
        return np.asarray(zones, dtype=np.int64)

    # ------------------------------------------------------------ per slot

    def step(self, g: int, injection_wh: I64, flow: SlotFlow | None = None) -> SlotFlow:
        """Solve slot ``g`` (global slot index; or take its already solved ``flow``) and
        record it in :attr:`log`."""
        if flow is None:
            flow = self.solve(injection_wh)
        log = self.log
        s = log.series
        log.house_injection_wh += injection_wh
        s["injection_wh"][g] = float(injection_wh.sum())
        s["converged"][g] = 1.0 if flow.converged else 0.0
        log.slots_done = g + 1
        if not flow.converged:
            return flow
        band = self.limits.voltage_band
        lim = self.limits.max_loading_pct
        s["vmin_pu"][g] = flow.vm_pu.min()
        s["vmax_pu"][g] = flow.vm_pu.max()
        s["line_max_pct"][g] = flow.line_pct.max() if flow.line_pct.size else 0.0
        s["trafo_max_pct"][g] = flow.trafo_pct.max() if flow.trafo_pct.size else 0.0
        s["losses_wh"][g] = flow.losses_w * SLOT_H
        s["grid_wh"][g] = flow.grid_w * SLOT_H
        s["buses_out_of_band"][g] = float((np.abs(flow.vm_pu - 1.0) > band).sum())
        s["lines_overloaded"][g] = float((flow.line_pct > lim).sum())
        s["trafos_overloaded"][g] = float((flow.trafo_pct > lim).sum())
        np.minimum(log.bus_vmin, flow.vm_pu, out=log.bus_vmin)
        np.maximum(log.bus_vmax, flow.vm_pu, out=log.bus_vmax)
        np.maximum(log.line_max, flow.line_pct, out=log.line_max)
        np.maximum(log.trafo_max, flow.trafo_pct, out=log.trafo_max)
        return flow

    # ------------------------------------------------------------ summary

    def summary(self) -> dict[str, object]:
        """Feeder KPIs of the slots done (see :data:`FEEDER_KEYS`)."""
        log = self.log
        s = log.trimmed()
        ok = s["converged"] == 1.0
        v_bad = s["buses_out_of_band"] > 0
        l_bad = s["lines_overloaded"] > 0
        t_bad = s["trafos_overloaded"] > 0
        out: dict[str, object] = {
            "feeder_slots": log.slots_done,
            "feeder_not_converged": int((~ok).sum()),
            "violation_slots": int((v_bad | l_bad | t_bad | ~ok).sum()),
            "voltage_violation_slots": int(v_bad.sum()),
            "line_overload_slots": int(l_bad.sum()),
            "trafo_overload_slots": int(t_bad.sum()),
            "vmin_pu": math.nan,
            "vmin_bus": "",
            "vmax_pu": math.nan,
            "vmax_bus": "",
            "line_max_pct": math.nan,
            "worst_line": "",
            "trafo_max_pct": math.nan,
            "losses_wh": float(np.nansum(s["losses_wh"])),
            "losses_pct": math.nan,
        }
        if ok.any():
            i_lo = int(np.argmin(log.bus_vmin))
            i_hi = int(np.argmax(log.bus_vmax))
            out["vmin_pu"] = float(log.bus_vmin[i_lo])
            out["vmin_bus"] = self._bus_label(i_lo)
            out["vmax_pu"] = float(log.bus_vmax[i_hi])
            out["vmax_bus"] = self._bus_label(i_hi)
            if log.lines:
                i_l = int(np.argmax(log.line_max))
                out["line_max_pct"] = float(log.line_max[i_l])
                out["worst_line"] = self._line_label(i_l)
            if log.trafos:
                out["trafo_max_pct"] = float(log.trafo_max.max())
            flowed = float(np.nansum(np.abs(s["grid_wh"])))
            out["losses_pct"] = 100.0 * float(out["losses_wh"]) / flowed if flowed else math.nan  # type: ignore[arg-type]
        return out

    def _bus_label(self, i: int) -> str:
        name = self.bus_names[i]
        return f"bus {int(self.bus_index[i])}" + (f" ({name})" if name else "")

    def _line_label(self, i: int) -> str:
        name = self.line_names[i]
        return f"line {int(self.line_index[i])}" + (f" ({name})" if name else "")


FEEDER_KEYS = (
    "feeder_slots",
    "feeder_not_converged",
    "violation_slots",
    "voltage_violation_slots",
    "line_overload_slots",
    "trafo_overload_slots",
    "vmin_pu",
    "vmin_bus",
    "vmax_pu",
    "vmax_bus",
    "line_max_pct",
    "worst_line",
    "trafo_max_pct",
    "losses_wh",
    "losses_pct",
)
"""Feeder KPI names: slot counts, extremes (per unit, %) with the element, losses (Wh, %
of the energy exchanged with the upstream grid)."""


def build_feeder(spec: Feeder, houses: int, seed: int, slots: int, base_dir: str) -> FeederFlow:
    """The scenario's feeder with its houses mapped to buses."""
    net = load_network(spec.network, base_dir)
    buses = house_buses(net, spec, houses, seed)
    limits = FeederLimits(spec.voltage_band, spec.max_loading_pct)
    return FeederFlow(net, buses, limits, spec.power_factor, spec.keep_network_loads, slots)
