"""The measurement API over a hand-made community (exact expected values)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_overview_totals_and_houses(client: TestClient) -> None:
    body = client.get("/api/overview").json()
    assert body["community"] == "lab"
    t = body["totals"]
    assert t["load_w"] == pytest.approx(1700.0)
    assert t["pv_w"] == pytest.approx(3000.0)
    assert t["grid_w"] == pytest.approx(-300.0)
    # two hours: load 1.7 kW → 3400 Wh; import only h3 (400 W → 800 Wh)
    assert t["today_load_wh"] == pytest.approx(3400.0)
    assert t["today_import_wh"] == pytest.approx(800.0)
    assert t["today_export_wh"] == pytest.approx(1400.0)
    assert t["self_sufficiency"] == pytest.approx(1 - 800 / 3400)
    h1 = next(h for h in body["houses"] if h["id"] == "h1")
    assert h1["soc"] == pytest.approx(0.619)
    assert h1["pv_w"] == 2000.0 and h1["bess_w"] == -1000.0
    h3 = next(h for h in body["houses"] if h["id"] == "h3")
    assert h3["pv_w"] is None and h3["today_pv_wh"] == 0.0


def test_house_latest_and_unknown(client: TestClient) -> None:
    assert client.get("/api/houses/h2/latest").json()["load_w"] == 800.0
    r = client.get("/api/houses/nope/latest")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_history_day_and_month(client: TestClient) -> None:
    r = client.get("/api/houses/h1/history", params={"device": "pv", "date": "2026-03-10"})
    pts = r.json()["points"]
    assert len(pts) == 8  # 2 h of 15-min buckets
    assert sum(p["energy_wh"] for p in pts) == pytest.approx(4000.0)
    r = client.get("/api/houses/h1/history", params={"date": "2026-03-10", "resolution": "1d"})
    assert [p["start"][:10] for p in r.json()["points"]] == ["2026-03-10"]
    assert (
        client.get("/api/houses/h1/history", params={"date": "2026-03-11"}).json()["points"] == []
    )


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"device": "pv"}, 404, "no pv"),
        ({"device": "heater"}, 422, "meter"),
        ({"date": "2026-13-01"}, 422, "date"),
        ({"date": "1900-01-01"}, 404, "no data for 1900-01-01"),
        ({"resolution": "7min"}, 422, "15min"),
    ],
)
def test_history_bad_input(
    client: TestClient, params: dict[str, str], status: int, words: str
) -> None:
    r = client.get("/api/houses/h3/history", params=params)
    assert r.status_code == status
    assert words in str(r.json()["detail"])


def test_flows_sum_houses(client: TestClient) -> None:
    pts = client.get("/api/flows", params={"date": "2026-03-10"}).json()["points"]
    assert len(pts) == 8
    assert pts[0]["load_w"] == pytest.approx(1700.0)
    assert pts[0]["import_w"] == pytest.approx(400.0)
    assert pts[0]["export_w"] == pytest.approx(700.0)
    assert pts[0]["bess_w"] == pytest.approx(-1000.0)


def test_pages_and_vendor_js(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'data-house="h3"' in page.text
    assert client.get("/houses/h1/meter").status_code == 200
    assert client.get("/houses/h1/pv").status_code == 200
    assert client.get("/houses/zz/pv").status_code == 404
    js = client.get("/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000


def test_openapi_documents_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/overview", "/api/houses/{house}/history", "/api/flows", "/api/stream"} <= set(
        paths
    )
