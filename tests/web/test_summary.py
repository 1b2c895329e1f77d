"""The community summary, the searchable and paged houses list, and the filtered live
stream (exact values from the hand-made community of conftest.py, and invariants)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.web.api_telemetry import _overview_for
from gridpeer.web.app import create_app
from gridpeer.web.auth import Auth
from gridpeer.web.context import WebContext
from gridpeer.web.models import HouseKind, HouseNow
from gridpeer.web.summary import GRID_BINS_W, grid_distribution, search_houses


def test_community_summary(client: TestClient) -> None:
    body = client.get("/api/community").json()
    assert body["houses"] == 3 and body["reporting"] == 3
    assert body["kinds"] == {"pv_bess": 1, "pv": 1, "consumer": 1}
    bins = {b["label"]: b["houses"] for b in body["grid_distribution"]}
    assert bins["exporting < 1 kW"] == 2 and bins["importing < 1 kW"] == 1
    assert sum(bins.values()) == 3
    # two hours: h1 exports 500 W → 1000 Wh, h2 200 W → 400 Wh; h3 imports 400 W → 800 Wh
    assert [(r["id"], r["wh"]) for r in body["top_exporters"]] == [
        ("h1", pytest.approx(1000.0)),
        ("h2", pytest.approx(400.0)),
        ("h3", 0.0),
    ]
    assert body["top_importers"][0]["id"] == "h3"
    assert [r["id"] for r in body["top_pv"]][:2] == ["h1", "h2"]
    assert [r["id"] for r in body["lowest_load"]] == ["h3", "h1", "h2"]
    assert body["totals"]["today_import_wh"] == pytest.approx(800.0)


def test_houses_live_search_paging_and_sort(client: TestClient) -> None:
    page = client.get("/api/houses/live", params={"limit": 2}).json()
    assert page["total"] == 3 and [h["id"] for h in page["houses"]] == ["h1", "h2"]
    page = client.get("/api/houses/live", params={"limit": 2, "offset": 2}).json()
    assert [h["id"] for h in page["houses"]] == ["h3"]
    page = client.get("/api/houses/live", params={"q": "HOUSE 2"}).json()
    assert page["total"] == 1 and page["houses"][0]["load_w"] == 800.0
    page = client.get("/api/houses/live", params={"sort": "import"}).json()
    assert page["houses"][0]["id"] == "h3"
    assert client.get("/api/houses/live", params={"q": "zz"}).json()["total"] == 0
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"sort": "x"}, {"q": "x" * 101}):
        assert client.get("/api/houses/live", params=bad).status_code == 422


def test_new_endpoints_are_in_the_openapi_document(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = {p["name"] for p in spec["paths"]["/api/houses/live"]["get"]["parameters"]}
    assert params == {"q", "limit", "offset", "sort"}
    assert "/api/community" in spec["paths"]


def _row(k: int, grid: float | None, export: float) -> HouseNow:
    return HouseNow(
        id=f"h{k}", name=f"House {k}", kind=HouseKind.PV, grid_w=grid, today_export_wh=export
    )


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(-1e4, 1e4, allow_nan=False)),
            st.floats(0, 1e5, allow_nan=False),
        ),
        max_size=60,
    ),
    st.text(alphabet="h123 ", max_size=3),
    st.integers(1, 20),
    st.sampled_from(["id", "export"]),
)
def test_paging_covers_every_match_once_and_bins_count_every_reading(
    rows: list[tuple[float | None, float]], q: str, limit: int, sort: str
) -> None:
    houses = [_row(k + 1, g, e) for k, (g, e) in enumerate(rows)]
    dist = grid_distribution(houses)
    assert len(dist) == len(GRID_BINS_W)
    assert sum(b.houses for b in dist) == sum(1 for h in houses if h.grid_w is not None)
    first = search_houses(houses, q, limit, 0, sort)
    seen: list[str] = []
    for offset in range(0, first.total + limit, limit):
        seen += [h.id for h in search_houses(houses, q, limit, offset, sort).houses]
    needle = q.strip().lower()
    want = [h.id for h in houses if needle in h.id.lower() or needle in h.name.lower()]
    assert first.total == len(want)
    assert sorted(seen) == sorted(want)  # every match exactly once across the pages
    if sort == "export":
        got = [h.today_export_wh for h in search_houses(houses, "", 1000, 0, sort).houses]
        assert got == sorted(got, reverse=True)


def test_stream_filters_rows(client: TestClient) -> None:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    one = json.loads(_overview_for(ctx, None, "h2"))
    assert [h["id"] for h in one["houses"]] == ["h2"]
    assert json.loads(_overview_for(ctx, None, rows="none"))["houses"] == []
    assert json.loads(_overview_for(ctx, None))["totals"] == one["totals"]


def test_private_community_hides_rankings_and_other_houses_readings(
    ctx: WebContext,
) -> None:
    ctx.auth = Auth(secret=b"s" * 32)  # a configured secret: private telemetry
    client = TestClient(create_app(ctx))
    body = client.get("/api/community").json()
    assert body["top_exporters"] == [] and body["lowest_load"] == []
    assert body["houses"] == 3 and body["totals"]["today_import_wh"] == pytest.approx(800.0)
    page = client.get("/api/houses/live", params={"sort": "export"}).json()
    assert [h["id"] for h in page["houses"]] == ["h1", "h2", "h3"]  # no ranking leaks
    assert all(h["load_w"] is None and h["today_export_wh"] == 0.0 for h in page["houses"])
