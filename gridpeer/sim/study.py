"""A study: a grid of simulation runs (designs × seeds × scenario parameters) from TOML.

```toml
name = "designs-by-forecast"
scenario = "village-100"          # a preset or a scenario file (relative to this file)
designs = ["uniform", "sdr"]      # or "all" (the seven designs)
seeds = 10                        # 0..9; or a list such as [1, 5, 9]
houses = 100                      # optional: overrides the scenario's
days = 7                          # optional: overrides the scenario's

[parameters]                      # optional: dotted scenario fields and their values
"strategy.forecast_error" = [0.1, 0.3]
"feeder.network" = ["kerber-dorfnetz", "kerber-landnetz-freileitung-1"]
```

The runs are the Cartesian product of designs, seeds and parameter values. Each run
has a stable id (a hash of its design, seed, houses, days and parameter values), so a
sweep that is started again skips the runs whose results are already written.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gridpeer.sim.scenario import MECHANISMS, Scenario, ScenarioError, load_scenario

ParamValue = str | int | float | bool


class StudyError(ValueError):
    """A study file is missing or invalid (the message names the field)."""


class StudyFile(BaseModel):
    """The validated study TOML (see module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "study"
    scenario: str
    designs: tuple[str, ...] | str = "all"
    seeds: int | tuple[int, ...] = Field(default=3)
    houses: int | None = Field(default=None, ge=1)
    days: int | None = Field(default=None, ge=1)
    parameters: dict[str, tuple[ParamValue, ...]] = {}


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: design, seed and parameter values (dotted scenario keys)."""

    design: str
    seed: int
    params: tuple[tuple[str, ParamValue], ...]
    houses: int
    days: int

    @property
    def run_id(self) -> str:
        """Stable id of the run (16 hex digits of a SHA-256 of its definition)."""
        text = json.dumps(
            [self.design, self.seed, self.houses, self.days, [list(p) for p in self.params]],
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Study:
    """A loaded study: its base scenario and the runs of the grid."""

    name: str
    scenario: Scenario
    runs: tuple[RunSpec, ...]
    param_keys: tuple[str, ...]

    def scenario_for(self, spec: RunSpec) -> Scenario:
        """The base scenario with the run's parameter values set."""
        return with_params(self.scenario, spec.params)


def with_params(scenario: Scenario, params: tuple[tuple[str, ParamValue], ...]) -> Scenario:
    """Set dotted fields (``"strategy.forecast_error"``) of a scenario and re-validate.

    Raises:
        StudyError: unknown field or invalid value.
    """
    if not params:
        return scenario
    data: dict[str, Any] = scenario.model_dump()
    for key, value in params:
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise StudyError(f"parameter {key!r}: {part!r} is not a table")
        node[parts[-1]] = value
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise StudyError(f"parameters {dict(params)}: {msgs}") from None


def parse_study(text: str, base_dir: Path) -> Study:
    """Parse and validate study TOML (scenario paths relative to ``base_dir``).

    Raises:
        StudyError: bad TOML, unknown fields, unknown designs or parameters.
    """
    try:
        raw = tomllib.loads(text)
        sf = StudyFile.model_validate(raw)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"study is not valid TOML: {exc}") from None
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise StudyError(f"invalid study: {msgs}") from None
    scen_path = base_dir / sf.scenario
    try:
        scenario = load_scenario(str(scen_path) if scen_path.is_file() else sf.scenario)
    except ScenarioError as exc:
        raise StudyError(str(exc)) from None
    if sf.designs == "all":
        designs: tuple[str, ...] = MECHANISMS
    elif isinstance(sf.designs, str):
        raise StudyError(f"designs must be a list or 'all', got {sf.designs!r}")
    else:
        designs = sf.designs
    bad = [d for d in designs if d not in MECHANISMS]
    if bad or not designs:
        raise StudyError(f"unknown designs {bad}; choose from {', '.join(MECHANISMS)}")
    seeds = tuple(range(sf.seeds)) if isinstance(sf.seeds, int) else sf.seeds
    if not seeds:
        raise StudyError("seeds: give at least one seed")
    houses = sf.houses or scenario.houses
    days = sf.days or scenario.calendar.days
    keys = tuple(sf.parameters)
    for key in keys:
        if not sf.parameters[key]:
            raise StudyError(f"parameter {key!r} has no values")
    combos = list(itertools.product(*(sf.parameters[k] for k in keys)))
    for combo in combos:  # fail early on a bad parameter, not on a worker
        with_params(scenario, tuple(zip(keys, combo, strict=True)))
    runs = tuple(
        RunSpec(d, s, tuple(zip(keys, combo, strict=True)), houses, days)
        for combo in combos
        for d in designs
        for s in seeds
    )
    return Study(sf.name, scenario, runs, keys)


def load_study(path: Path) -> Study:
    """Load a study TOML file (see :func:`parse_study`)."""
    if not path.is_file():
        raise StudyError(f"study file not found: {path}")
    return parse_study(path.read_text(encoding="utf-8"), path.parent)
