"""An EV house on the web: its charger's power and the car's SoC on the house page and
in the API, its history per device; houses without a car show none."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from gridpeer.core.clock import Clock
from gridpeer.store.base import Sample
from gridpeer.store.factory import open_store
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from gridpeer.web.models import HouseInfo, HouseKind
from tests.web.conftest import DAY0, HOUSES, fill


@pytest.fixture
def ev_client() -> TestClient:
    store = open_store("sqlite:///:memory:")
    fill(store)
    rows = []
    for k in range(120):  # h4 charges its car at 3.7 kW from 11:00 (within its 4.2 kW load)
        ts = DAY0 + timedelta(hours=10, minutes=k)
        ev = 3700.0 if k >= 60 else 0.0
        rows += [
            Sample("h4", "meter", ts, v=230.0, i=2.0, p=500.0 + ev, e_wh=k * 9, p_grid=500 + ev),
            Sample("h4", "pv", ts, v=300.0, i=0.0, p=0.0),
            Sample("h4", "ev", ts, p=ev, soc=0.40 + max(0, k - 60) / 1000),
        ]
    store.write(rows)
    ev_house = HouseInfo(id="h4", name="House 4", kind=HouseKind.PV, pv_kwp=2.5, ev_kwh=40.0)
    clock = Clock(start=DAY0 + timedelta(hours=12), speed=1.0)
    ctx = WebContext.create(store, clock, [*HOUSES, ev_house], community="lab")
    return TestClient(create_app(ctx))


def test_ev_house_page_and_api(ev_client: TestClient) -> None:
    page = ev_client.get("/houses/h4/meter")
    assert page.status_code == 200
    assert 'data-testid="ev-power"' in page.text and "40 kWh" in page.text
    other = ev_client.get("/houses/h1/meter")
    assert 'data-testid="ev-power"' not in other.text
    h4 = next(h for h in ev_client.get("/api/overview").json()["houses"] if h["id"] == "h4")
    assert h4["ev_w"] == 3700.0 and h4["ev_soc"] == pytest.approx(0.459)
    assert h4["load_w"] >= h4["ev_w"]  # the car is part of the house's load
    h1 = next(h for h in ev_client.get("/api/overview").json()["houses"] if h["id"] == "h1")
    assert h1["ev_w"] is None
    pts = ev_client.get(
        "/api/houses/h4/history", params={"device": "ev", "date": "2026-03-10"}
    ).json()["points"]
    assert sum(p["energy_wh"] for p in pts) == pytest.approx(3700.0)  # one hour at 3.7 kW
    assert ev_client.get("/api/houses/h1/history", params={"device": "ev"}).status_code == 404
