"""Fixtures for web tests: a hand-made community in an in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from gridpeer.core.clock import Clock
from gridpeer.store.base import Sample, Store
from gridpeer.store.factory import open_store
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from gridpeer.web.models import HouseInfo, HouseKind

DAY0 = datetime(2026, 3, 10, tzinfo=UTC)
HOUSES = [
    HouseInfo(id="h1", name="House 1", kind=HouseKind.PV_BESS, pv_kwp=3.0, bess_kwh=5.0),
    HouseInfo(id="h2", name="House 2", kind=HouseKind.PV, pv_kwp=2.0),
    HouseInfo(id="h3", name="House 3", kind=HouseKind.CONSUMER),
]


def fill(store: Store) -> None:
    """Two hours (10:00-12:00 UTC) of one reading per minute.

    h1: load 500 W, pv 2000 W, battery charging 1000 W, exporting 500 W, SoC 0.5..
    h2: load 800 W, pv 1000 W, exporting 200 W.  h3: load 400 W, importing 400 W.
    """
    rows = []
    for k in range(120):
        ts = DAY0 + timedelta(hours=10, minutes=k)
        rows += [
            Sample("h1", "meter", ts, v=230.0, i=2.2, p=500.0, e_wh=k * 8, p_grid=-500.0),
            Sample("h1", "pv", ts, v=300.0, i=6.7, p=2000.0),
            Sample("h1", "bess", ts, v=51.2, i=-19.5, p=-1000.0, soc=0.5 + k / 1000),
            Sample("h2", "meter", ts, v=229.0, i=3.5, p=800.0, e_wh=k * 13, p_grid=-200.0),
            Sample("h2", "pv", ts, v=280.0, i=3.6, p=1000.0),
            Sample("h3", "meter", ts, v=231.0, i=1.7, p=400.0, e_wh=k * 7, p_grid=400.0),
        ]
    store.write(rows)


@pytest.fixture
def store() -> Store:
    s = open_store("sqlite:///:memory:")
    fill(s)
    return s


@pytest.fixture
def ctx(store: Store) -> WebContext:
    clock = Clock(start=DAY0 + timedelta(hours=12), speed=1.0)
    return WebContext.create(store, clock, HOUSES, community="lab")


@pytest.fixture
def client(ctx: WebContext) -> TestClient:
    return TestClient(create_app(ctx))
