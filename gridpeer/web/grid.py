"""The feeder under the community, live: its power flow's shapes and the cache the API
reads.

The web app does not solve power flows itself (pandapower lives in the simulator's
layer): whoever composes the app hands :class:`LiveGrid` a ``build`` function returning a
:data:`GridSolver` — houses' net injections now (W) in, :class:`GridStatus` out
(:mod:`gridpeer.runtime.grid` builds it from the ``[grid]`` settings). ``build`` runs
once, in a thread of its own (loading pandapower and the network takes seconds); until
it is done ``/api/grid`` answers 503. A flow is solved when asked for and reused for
``refresh_s`` wall seconds, so nobody watching costs nothing and many watchers cost one
flow per ``refresh_s``.

Units: power W (+ into the feeder for injections, + import for the upstream grid),
voltage per unit of the bus's nominal voltage, loading % of the element's rating.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from gridpeer.web.models import Overview

log = logging.getLogger(__name__)

MAX_VIOLATIONS = 20
"""Most violations a :class:`GridStatus` lists (``violation_count`` counts them all)."""


class BusState(BaseModel):
    """One bus of the feeder."""

    bus: int = Field(description="the bus's index in the network")
    name: str = Field(description="the bus's name in the network ('' when unnamed)")
    vm_pu: float = Field(description="voltage magnitude, per unit of the nominal voltage")
    houses: int = Field(description="the community's houses connected to this bus")


class BranchState(BaseModel):
    """One line or transformer of the feeder."""

    index: int = Field(description="the element's index in the network's line/trafo table")
    name: str = Field(description="its name in the network ('' when unnamed)")
    loading_pct: float = Field(description="loading, % of its rated current (line) or power")


ViolationKind = Literal["overvoltage", "undervoltage", "line_overload", "trafo_overload"]


class GridViolation(BaseModel):
    """A bus voltage outside the band, or a line or transformer above its limit."""

    kind: ViolationKind
    element: str = Field(description="which bus, line or transformer, e.g. 'bus 7 (loadbus_1_3)'")
    value: float = Field(description="voltage, p.u. (buses), or loading, % (lines, trafos)")
    limit: float = Field(description="the limit it crosses, in the same unit")


class GridStatus(BaseModel):
    """An AC power flow of the community's net injections now: extremes, the worst bus
    and line, and every violation (voltage outside ``1 ± voltage_band`` p.u., loading
    above ``max_loading_pct`` %)."""

    network: str = Field(description="the feeder: a pandapower test feeder or network file")
    at: datetime = Field(description="model time of the readings the flow is solved for")
    converged: bool = Field(description="false: the flow did not converge (figures null)")
    voltage_band: float = Field(description="allowed deviation from 1 p.u., e.g. 0.1")
    max_loading_pct: float = Field(description="allowed loading of lines and transformers, %")
    houses: int = Field(description="houses mapped to the feeder's buses")
    reporting: int = Field(description="houses with a net grid power reading (others: 0 W)")
    injection_w: float = Field(description="the houses' net injection, W (+ into the feeder)")
    grid_w: float | None = Field(None, description="power from the upstream grid, W (+ import)")
    losses_w: float | None = Field(None, description="losses in lines and transformers, W")
    vmin_pu: float | None = Field(None, description="lowest bus voltage, p.u.")
    vmax_pu: float | None = Field(None, description="highest bus voltage, p.u.")
    lowest_bus: BusState | None = None
    highest_bus: BusState | None = None
    worst_line: BranchState | None = Field(None, description="the most loaded line")
    worst_trafo: BranchState | None = Field(None, description="the most loaded transformer")
    violations: list[GridViolation] = Field(
        description=f"the violations, worst first (at most {MAX_VIOLATIONS}): by how far "
        "past its limit, relative to the voltage band or the loading limit"
    )
    violation_count: int = Field(description="all violations (the list may be shorter)")


GridSolver = Callable[[Mapping[str, float], datetime], GridStatus]
"""Houses' net injections (house id → W, + into the feeder; houses left out inject 0) at a
model time → the feeder's state."""


class LiveGrid:
    """The feeder's live flow for the API (see module doc)."""

    def __init__(self, build: Callable[[], GridSolver], refresh_s: float = 10.0) -> None:
        self.refresh_s = refresh_s
        self.error: str | None = None
        self.solves = 0
        self._build = build
        self._solver: GridSolver | None = None
        self._lock = threading.Lock()
        self._json: str | None = None
        self._solved_at = -math.inf  # monotonic s

    def start(self) -> None:
        """Build the solver in a background thread."""
        threading.Thread(target=self.load, name="web-grid-load", daemon=True).start()

    def load(self) -> None:
        """Build the solver now (keeps the error for the API if it fails)."""
        try:
            self._solver = self._build()
        except Exception as exc:  # the API says why
            log.exception("the feeder model could not be built")
            self.error = f"the feeder model could not be built: {exc}"

    @property
    def ready(self) -> bool:
        """The solver is built."""
        return self._solver is not None

    def status_json(self, overview: Overview) -> str | None:
        """The flow of ``overview``'s net grid power per house, as JSON (the last one if
        younger than ``refresh_s``); None while the solver is not built. Blocking."""
        solver = self._solver
        if solver is None:
            return None
        with self._lock:
            if self._json is not None and time.monotonic() - self._solved_at < self.refresh_s:
                return self._json
            status = solver(injections_w(overview), overview.now)
            self._json = status.model_dump_json()
            self._solved_at = time.monotonic()
            self.solves += 1
            return self._json


def injections_w(overview: Overview) -> dict[str, float]:
    """Each reporting house's net injection now, W (+ into the feeder): minus its net grid
    power reading (+ import)."""
    return {h.id: -h.grid_w for h in overview.houses if h.grid_w is not None}
