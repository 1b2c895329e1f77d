"""House positions: the default rural cluster and layout files."""

from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.netsim.layout import distance_m, home_layout, load_layout, rural_cluster


def test_default_cluster_geometry() -> None:
    village = rural_cluster()
    assert len(village.houses) == 7
    assert village.coordinator == (0.0, 0.0)
    pair = sorted(distance_m(a, b) for a, b in combinations(village.houses, 2))
    assert pair[0] == pytest.approx(21.69, abs=0.01)  # neighbours
    assert pair[-1] == pytest.approx(48.75, abs=0.01)  # farthest pair
    assert all(
        distance_m(h, village.coordinator) == pytest.approx(25.0, abs=1e-3) for h in village.houses
    )


@given(st.integers(1, 7), st.floats(1.0, 500.0))
def test_cluster_radius(n: int, radius: float) -> None:
    village = rural_cluster(n, radius)
    assert len(village.houses) == n
    for h in village.houses:
        assert math.hypot(*h) == pytest.approx(radius, abs=0.01)


def test_first_keeps_same_village() -> None:
    village = rural_cluster()
    assert village.first(3).houses == village.houses[:3]
    with pytest.raises(ValueError):
        village.first(8)


def test_home_layout_distances() -> None:
    home = home_layout(("meter", "pv", "bess"))
    assert [round(math.hypot(*p), 3) for p in home.houses] == [5.0, 8.0, 4.0]


def test_load_layout(tmp_path: Path) -> None:
    f = tmp_path / "v.csv"
    f.write_text("name,x_m,y_m\ncommunity,0,0\na,10,0\nb,0,30\n")
    layout = load_layout(f)
    assert layout.coordinator == (0.0, 0.0)
    assert layout.houses == ((10.0, 0.0), (0.0, 30.0))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("x,y\n0,0\n", "header"),
        ("name,x_m,y_m\nc,0,0\na,zz,1\nb,1,1\n", ":3: bad coordinates"),
        ("name,x_m,y_m\nc,0,0\na,1,1\n", "at least 2 houses"),
        ("name,x_m,y_m\nc,0,0\na,inf,1\nb,1,1\n", "finite"),
    ],
)
def test_load_layout_errors(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_layout(f)


def test_rural_road_reaches_farther_as_the_village_grows() -> None:
    from gridpeer.netsim.layout import rural_road

    road = rural_road(7, 50.0)
    assert road.coordinator == (0.0, 0.0)
    assert [h[0] for h in road.houses] == [50.0, -50.0, 100.0, -100.0, 150.0, -150.0, 200.0]
    reach = [
        max(distance_m(road.coordinator, h) for h in road.first(n).houses) for n in range(1, 8)
    ]
    assert reach == sorted(reach) and reach[-1] == 200.0
    with pytest.raises(ValueError):
        rural_road(3, 0.0)
