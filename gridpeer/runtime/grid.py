"""The community's feeder in ``demo`` and ``serve``: the ``[grid]`` settings → a pandapower
network with every house on its bus → the web app's live power flow (``/api/grid``,
the overview's feeder panel; :mod:`gridpeer.web.grid`).

Each flow is :meth:`gridpeer.sim.feeder.FeederFlow.solve_power` — the simulator's
per-slot AC power flow — of the houses' net injections now (minus each house's latest
net grid power reading, W). ``serve`` builds the network once before the web app
starts (:func:`grid_check`), so an unknown feeder, an unreadable network file or a bus
the network does not have stops it with a message that says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import math
import random
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from gridpeer.core.defaults import DEMO_FEEDERS
from gridpeer.core.settings import ConfigError, GridSettings
from gridpeer.runtime.composition import Parts
from gridpeer.web.grid import (
    MAX_VIOLATIONS,
    BranchState,
    BusState,
    GridStatus,
    GridViolation,
    LiveGrid,
    ViolationKind,
)

if TYPE_CHECKING:
    from gridpeer.sim.feeder import FeederFlow, SlotFlow


def pandapower_installed() -> bool:
    """pandapower can be imported here (``pip install gridpeer[sim]``)."""
    return importlib.util.find_spec("pandapower") is not None


def demo_grid(houses: int) -> dict[str, str] | None:
    """The demo's ``[grid]`` for ``houses`` houses: the smallest of
    :data:`~gridpeer.core.defaults.DEMO_FEEDERS` with a load bus per house (else the
    largest), houses on its load buses in turn; None without pandapower."""
    if not pandapower_installed():
        return None
    network = next((n for buses, n in DEMO_FEEDERS if houses <= buses), DEMO_FEEDERS[-1][1])
    return {"network": network}


class LiveFeeder:
    """A :data:`~gridpeer.web.grid.GridSolver` over one :class:`FeederFlow` (the network
    updated in place, each flow warm-started from the last)."""

    def __init__(self, flow: FeederFlow, settings: GridSettings, houses: list[str]) -> None:
        self.flow = flow
        self.settings = settings
        self.houses = houses
        self.houses_per_bus = dict(
            zip(*np.unique(flow.bus_of_house, return_counts=True), strict=True)
        )

    def injection_vector(self, injections_w: Mapping[str, float]) -> np.ndarray:
        """W per house in :attr:`houses` order (0 for houses without a value)."""
        return np.array([float(injections_w.get(h, 0.0)) for h in self.houses])

    def __call__(self, injections_w: Mapping[str, float], at: datetime) -> GridStatus:
        """The flow of ``injections_w`` (house id → W, + into the feeder) at ``at``."""
        p = self.injection_vector(injections_w)
        solved = self.flow.solve_power(p)
        reporting = sum(1 for h in self.houses if h in injections_w)
        return grid_status(self.flow, solved, self, at, reporting, float(p.sum()))

    def bus(self, i: int, vm_pu: float) -> BusState:
        """Bus at position ``i`` of the network's bus table."""
        f = self.flow
        b = int(f.bus_index[i])
        return BusState(
            bus=b, name=f.bus_names[i], vm_pu=vm_pu, houses=int(self.houses_per_bus.get(b, 0))
        )


def grid_status(
    flow: FeederFlow,
    solved: SlotFlow,
    live: LiveFeeder,
    at: datetime,
    reporting: int,
    injection_w: float,
) -> GridStatus:
    """The API's view of one solved flow (see :class:`~gridpeer.web.grid.GridStatus`)."""
    s = live.settings
    band, lim = s.voltage_band, s.max_loading_pct
    base = GridStatus(
        network=s.network,
        at=at,
        converged=solved.converged,
        voltage_band=band,
        max_loading_pct=lim,
        houses=len(live.houses),
        reporting=reporting,
        injection_w=injection_w,
        violations=[],
        violation_count=0,
    )
    if not solved.converged:
        return base
    vm = solved.vm_pu
    lo, hi = int(np.argmin(vm)), int(np.argmax(vm))
    trafo_index = flow.net.trafo.index.to_numpy()
    lines = [
        BranchState(index=int(flow.line_index[i]), name=flow.line_names[i], loading_pct=v)
        for i, v in enumerate(solved.line_pct.tolist())
    ]
    trafos = [
        BranchState(index=int(trafo_index[i]), name=flow.trafo_names[i], loading_pct=v)
        for i, v in enumerate(solved.trafo_pct.tolist())
    ]
    found: list[tuple[float, GridViolation]] = []

    def add(kind: ViolationKind, element: str, value: float, limit: float) -> None:
        # worst first: how far past the limit, relative to the allowed deviation from
        # 1 p.u. (voltages) or to the loading limit (lines, transformers)
        excess = abs(value - limit) / (band if kind.endswith("voltage") else limit)
        found.append((excess, GridViolation(kind=kind, element=element, value=value, limit=limit)))

    for i, v in enumerate(vm.tolist()):
        if v > 1.0 + band:
            add("overvoltage", _label("bus", live.bus(i, v)), v, 1.0 + band)
        elif v < 1.0 - band:
            add("undervoltage", _label("bus", live.bus(i, v)), v, 1.0 - band)
    for br in lines:
        if br.loading_pct > lim:
            add("line_overload", _label("line", br), br.loading_pct, lim)
    for br in trafos:
        if br.loading_pct > lim:
            add("trafo_overload", _label("trafo", br), br.loading_pct, lim)
    found.sort(key=lambda t: -t[0])
    return base.model_copy(
        update={
            "grid_w": _finite(solved.grid_w),
            "losses_w": _finite(solved.losses_w),
            "vmin_pu": float(vm[lo]),
            "vmax_pu": float(vm[hi]),
            "lowest_bus": live.bus(lo, float(vm[lo])),
            "highest_bus": live.bus(hi, float(vm[hi])),
            "worst_line": max(lines, key=lambda b: b.loading_pct) if lines else None,
            "worst_trafo": max(trafos, key=lambda b: b.loading_pct) if trafos else None,
            "violations": [v for _, v in found[:MAX_VIOLATIONS]],
            "violation_count": len(found),
        }
    )


def _label(kind: str, element: BusState | BranchState) -> str:
    index = element.bus if isinstance(element, BusState) else element.index
    return f"{kind} {index}" + (f" ({element.name})" if element.name else "")


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def live_feeder(settings: GridSettings, houses: list[str]) -> LiveFeeder:
    """The feeder of ``settings`` with ``houses`` (ids, in config order) on their buses.
    Blocking: imports pandapower and loads the network (seconds).

    Raises:
        ConfigError: pandapower is missing, the network file cannot be read, or a house's
            bus is not in the network (the message says which).
    """
    if not pandapower_installed():
        raise ConfigError("[grid] needs pandapower: pip install 'gridpeer[sim]'")
    from gridpeer.sim.feeder import (
        FeederError,
        FeederFlow,
        FeederLimits,
        load_network,
        named_house_buses,
    )

    try:
        net = _same_each_start(load_network, settings.network)
    except FeederError as exc:
        raise ConfigError(f"[grid] {exc}") from None
    except Exception as exc:  # pandapower's readers raise anything on a bad file
        raise ConfigError(
            f"[grid] network: {settings.network} is not a pandapower network file ({exc})"
        ) from None
    try:
        buses = named_house_buses(net, houses, settings.buses)
    except FeederError as exc:
        raise ConfigError(f"[grid] buses (network {settings.network}): {exc}") from None
    limits = FeederLimits(settings.voltage_band, settings.max_loading_pct)
    flow = FeederFlow(net, buses, limits, settings.power_factor, settings.keep_network_loads)
    return LiveFeeder(flow, settings, houses)


def _same_each_start(load: Callable[[str], Any], network: str) -> Any:
    """``load(network)`` with Python's ``random`` seeded (its state restored after):
    pandapower draws the Kerber feeders' branch-out cables with it, and a community's
    feeder must not change from one start of ``serve`` to the next."""
    state = random.getstate()
    random.seed(f"gridpeer feeder {network}")
    try:
        return load(network)
    finally:
        random.setstate(state)


def live_grid(parts: Parts) -> LiveGrid | None:
    """The web app's live flow of ``[grid]`` (built in a background thread), or None."""
    grid = parts.settings.grid
    if grid is None:
        return None
    live = LiveGrid(partial(live_feeder, grid, [h.id for h in parts.houses]), grid.refresh_s)
    live.start()
    return live


@contextlib.asynccontextmanager
async def grid_check(parts: Parts) -> AsyncIterator[None]:
    """``serve``: build the ``[grid]`` feeder once before the web app starts, so a bad
    network or bus mapping stops ``serve`` with a clear message (nothing without
    ``[grid]``).

    Raises:
        ConfigError: see :func:`live_feeder`.
    """
    grid = parts.settings.grid
    if grid is not None:
        await asyncio.to_thread(live_feeder, grid, [h.id for h in parts.houses])
    yield
