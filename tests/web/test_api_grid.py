"""``/api/grid`` and the overview's feeder panel through the real web app: the flow of
the houses' live readings, 404 without ``[grid]``, 503 while the model loads, in the
OpenAPI spec; in Chromium, violations highlighted and the page passing axe."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gridpeer.core.clock import Clock
from gridpeer.core.settings import GridSettings
from gridpeer.runtime.grid import live_feeder
from gridpeer.store.base import Sample
from gridpeer.store.factory import open_store
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from gridpeer.web.grid import GridStatus, LiveGrid
from gridpeer.web.models import HouseInfo, HouseKind
from gridpeer.web.server import bind, serving
from tests.web.liveserver import shots_dir
from tests.web.test_accessibility import _audit

pytest.importorskip("pandapower")
FEEDER = GridSettings(network="cigre-lv")


def _loaded(houses: list[str], grid: GridSettings = FEEDER) -> LiveGrid:
    live = LiveGrid(partial(live_feeder, grid, houses), refresh_s=0.0)
    live.load()
    return live


def test_no_feeder_is_404(client: TestClient) -> None:
    r = client.get("/api/grid")
    assert r.status_code == 404
    assert "[grid]" in r.json()["detail"]


def test_loading_and_failed_models_are_503(ctx: WebContext) -> None:
    ctx.grid = LiveGrid(partial(live_feeder, FEEDER, ["h1"]))  # not loaded yet
    client = TestClient(create_app(ctx))
    r = client.get("/api/grid")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "loading" in r.json()["detail"]

    def broken() -> Any:
        raise ValueError("bus 99 is not in the network")

    ctx.grid = LiveGrid(broken)
    ctx.grid.load()
    r = client.get("/api/grid")
    assert r.status_code == 503
    assert "could not be built: bus 99 is not in the network" in r.json()["detail"]


def test_flow_of_the_live_readings(ctx: WebContext) -> None:
    houses = [h.id for h in ctx.houses]
    ctx.grid = _loaded(houses)
    client = TestClient(create_app(ctx))
    r = client.get("/api/grid")
    assert r.status_code == 200
    got = GridStatus.model_validate(r.json())
    # conftest's readings: h1 exports 500 W, h2 exports 200 W, h3 imports 400 W
    want = live_feeder(FEEDER, houses)({"h1": 500.0, "h2": 200.0, "h3": -400.0}, got.at)
    assert got == want
    assert got.reporting == 3 and got.injection_w == pytest.approx(300.0)
    assert got.converged and got.violation_count == 0
    assert got.at == ctx.cache.overview.now
    assert ctx.grid.solves == 1
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/grid"]["get"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/GridStatus"
    )
    assert {"404", "503"} <= set(op["responses"])
    fields = spec["components"]["schemas"]["GridStatus"]["properties"]
    assert {"vmin_pu", "vmax_pu", "worst_line", "violations"} <= set(fields)


T = datetime(2026, 3, 10, 13, tzinfo=UTC)
BIG = [HouseInfo(id=f"h{k}", name=f"House {k}", kind=HouseKind.PV) for k in range(1, 5)]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """Four houses feeding 60 kW each into the end of a Kerber cable feeder."""
    store = open_store("sqlite:///:memory:")
    store.write(
        Sample(h.id, d, T - timedelta(minutes=m), 230.0, 1.0, 60_000.0, p_grid=-60_000.0)
        for h in BIG
        for d in ("meter", "pv")
        for m in range(5)
    )
    ctx = WebContext.create(store, Clock(start=T, speed=1.0), BIG, "sunny")
    grid = GridSettings(
        network="kerber-landnetz-kabel-1", buses=dict.fromkeys([h.id for h in BIG], 13)
    )
    ctx.grid = _loaded([h.id for h in BIG], grid)
    sock = bind("127.0.0.1", 0)
    loop = asyncio.new_event_loop()
    started, box = threading.Event(), []
    done = asyncio.Event()

    async def main() -> None:
        async with serving(create_app(ctx), ctx, sock) as base:
            box.append(base)
            started.set()
            await done.wait()

    t = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    t.start()
    assert started.wait(30)
    try:
        yield box[0]
    finally:
        loop.call_soon_threadsafe(done.set)
        t.join(30)
        loop.close()
        store.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_overview_shows_the_feeders_violations(url: str, chromium: Any, width: int) -> None:
    page = chromium.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(url + "/")
        page.wait_for_selector("[data-testid=feeder]:not([hidden])")
        assert page.inner_text("[data-g=network]") == "kerber-landnetz-kabel-1"
        assert page.inner_text("[data-g=reporting]") == "4"
        vmax = float(page.inner_text("[data-g=vmax]").split()[0])
        assert vmax > 1.1
        assert page.inner_text("[data-g=vmax_bus]") == "bus 13 (loadbus_1_6)"
        for key in ("vmax", "line", "trafo", "count"):  # highlighted
            el = page.locator(f"#feeder [data-r={key}]")
            assert el.get_attribute("data-violation") == "true", key
            assert "bad" in (el.get_attribute("class") or "")
        assert page.locator("#feeder [data-r=vmin]").get_attribute("data-violation") == "false"
        items = page.locator("#feeder-violations li")
        assert items.count() >= 3
        text = page.inner_text("#feeder-violations")
        assert "Overvoltage: bus 13 (loadbus_1_6)" in text
        assert "Transformer overloaded" in text and "Line overloaded" in text
        assert int(page.inner_text("[data-g=count]")) >= 3
        page.locator("#feeder").screenshot(path=str(shots_dir() / f"overview-feeder-{width}.png"))
        assert _audit(page) == []
    finally:
        page.close()
