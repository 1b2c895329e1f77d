"""A community of 130 houses in Chromium: the overview summarizes instead of listing a card
per house, and the houses list searches and pages on the server; both pass axe."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gridpeer.core.clock import Clock
from gridpeer.store.base import Sample
from gridpeer.store.factory import open_store
from gridpeer.web.app import create_app
from gridpeer.web.context import WebContext
from gridpeer.web.models import HouseInfo, HouseKind
from gridpeer.web.pages import CARDS_MAX
from gridpeer.web.server import bind, serving
from tests.web.test_accessibility import _audit

pytestmark = pytest.mark.browser
N = 130
T = datetime(2026, 3, 10, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    assert N > CARDS_MAX
    store = open_store("sqlite:///:memory:")
    houses = [HouseInfo(id=f"h{k}", name=f"House {k}", kind=HouseKind.PV) for k in range(1, N + 1)]
    store.write(
        Sample(h.id, d, T - timedelta(minutes=m), 230.0, 1.0, 100.0 * k, p_grid=50.0 * (k - 60))
        for k, h in enumerate(houses)
        for d in ("meter", "pv")
        for m in range(30)
    )
    ctx = WebContext.create(store, Clock(start=T, speed=1.0), houses, "big")
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


def test_overview_summarizes_a_large_community(url: str, chromium: Any) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(url + "/")
        page.wait_for_selector("#top-exporters li a")
        assert page.locator("[data-testid^=house-h]").count() == 0  # no card per house
        assert page.inner_text("[data-testid=reporting]") == str(N)
        assert page.locator("#grid-dist li").count() == 7
        assert page.locator("#top-exporters li").count() == 5
        assert page.inner_text("#top-exporters li:first-child a") == "House 1"  # most export
        assert _audit(page) == []
    finally:
        page.close()


def test_houses_list_searches_and_pages(url: str, chromium: Any) -> None:
    page = chromium.new_page(viewport={"width": 390, "height": 900})
    try:
        page.goto(url + "/houses")
        status = page.locator("[data-testid=page-status]")
        status.filter(has_text=f"Houses 1–50 of {N}").wait_for()
        assert page.locator("#house-rows tr").count() == 50
        page.click("[data-testid=next]")
        status.filter(has_text=f"Houses 51–100 of {N}").wait_for()
        assert page.text_content("#house-rows tr:first-child th a") == "House 51"
        page.fill("[data-testid=house-q]", "h12")
        status.filter(has_text="of 11 matching").wait_for()  # h12, h120..h129
        assert page.locator("#house-rows tr").count() == 11
        assert page.is_disabled("[data-testid=next]") and page.is_disabled("[data-testid=prev]")
        assert _audit(page) == []
    finally:
        page.close()
