"""Where the nodes stand: house positions of the community and device positions in a house.

Default community (the thesis's rural cluster of 7 houses near Valparaíso): the
houses stand evenly on a circle of radius ``radius_m`` (default 25 m) around the
community node (market coordinator / data concentrator / Ethernet switch) at the
origin; house ``k`` is at angle ``2πk/7`` so that a study with ``n`` prosumers uses
the first ``n`` houses of the same village. Neighbours are 21.7 m apart, the
farthest pair 48.7 m. Home-area devices stand a few metres from the home agent
(meter 5 m, PV inverter 8 m on the roof, battery 4 m, appliance hub 6 m).

The rural road (:func:`rural_road`, ``gridpeer netsim --spacing``): houses along one
road, ``spacing_m`` apart (default 60 m), alternately on either side of the community
node, so a bigger neighbourhood reaches farther: with 7 houses the last stands
4 × spacing from the node and the farthest pair 7 × spacing apart.

All coordinates in metres, ``(x, y)`` on flat ground at 1.5 m antenna height (the
height cancels out: every antenna is at the same height).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

MAX_HOUSES = 7
DEFAULT_RADIUS_M = 25.0

Point = tuple[float, float]


@dataclass(frozen=True)
class Layout:
    """A community: the coordinator's position and the houses' positions, metres."""

    coordinator: Point
    houses: tuple[Point, ...]

    def __post_init__(self) -> None:
        if not self.houses:
            raise ValueError("a layout needs at least one house")

    def first(self, n: int) -> Layout:
        """The same village with only its first ``n`` houses."""
        if not 1 <= n <= len(self.houses):
            raise ValueError(f"layout has {len(self.houses)} houses, asked for {n}")
        return Layout(self.coordinator, self.houses[:n])


def rural_cluster(n_houses: int = MAX_HOUSES, radius_m: float = DEFAULT_RADIUS_M) -> Layout:
    """Houses evenly on a circle of ``radius_m`` metres around the coordinator at (0, 0)."""
    if n_houses < 1:
        raise ValueError("n_houses must be >= 1")
    if not radius_m > 0:
        raise ValueError("radius_m must be > 0")
    houses = tuple(
        (
            round(radius_m * math.cos(2 * math.pi * k / n_houses), 3),
            round(radius_m * math.sin(2 * math.pi * k / n_houses), 3),
        )
        for k in range(n_houses)
    )
    return Layout((0.0, 0.0), houses)


DEFAULT_SPACING_M = 60.0


def rural_road(n_houses: int = MAX_HOUSES, spacing_m: float = DEFAULT_SPACING_M) -> Layout:
    """Houses along a road at (±spacing·⌈k/2⌉, 0), alternately either side of the
    community node at (0, 0): house 1 at +spacing, house 2 at −spacing, house 3 at
    +2·spacing, … (metres). The first ``n`` houses of a road are a smaller village."""
    if n_houses < 1:
        raise ValueError("n_houses must be >= 1")
    if not spacing_m > 0:
        raise ValueError("spacing_m must be > 0")
    houses = tuple(
        ((1.0 if k % 2 == 0 else -1.0) * spacing_m * (k // 2 + 1), 0.0) for k in range(n_houses)
    )
    return Layout((0.0, 0.0), houses)


HOME_DEVICE_DISTANCE_M: dict[str, float] = {"meter": 5.0, "pv": 8.0, "bess": 4.0, "appliances": 6.0}
"""Distance of each home-area device from the home agent, metres."""


def home_layout(devices: tuple[str, ...]) -> Layout:
    """One house: the home agent at the origin, its devices spread around it."""
    pts = []
    for k, name in enumerate(devices):
        d = HOME_DEVICE_DISTANCE_M.get(name, 5.0)
        a = 2 * math.pi * k / len(devices)
        pts.append((round(d * math.cos(a), 3), round(d * math.sin(a), 3)))
    return Layout((0.0, 0.0), tuple(pts))


def distance_m(a: Point, b: Point) -> float:
    """Euclidean distance between two points, metres."""
    return math.hypot(a[0] - b[0], a[1] - b[1])


def load_layout(path: Path) -> Layout:
    """Read a layout CSV with header ``name,x_m,y_m``: first row the coordinator, then houses.

    Raises ``ValueError`` with the offending line for malformed files.
    """
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"x_m", "y_m"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: header must contain x_m,y_m (got {reader.fieldnames})")
        points: list[Point] = []
        for line, row in enumerate(reader, start=2):
            try:
                x, y = float(row["x_m"]), float(row["y_m"])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{line}: bad coordinates {row}") from exc
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError(f"{path}:{line}: coordinates must be finite")
            points.append((x, y))
    if len(points) < 3:
        raise ValueError(f"{path}: need a coordinator row and at least 2 houses")
    if len(points) - 1 > MAX_HOUSES:
        raise ValueError(f"{path}: at most {MAX_HOUSES} houses")
    return Layout(points[0], tuple(points[1:]))
