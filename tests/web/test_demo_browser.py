"""The demo in Debian's Chromium: live numbers and charts change; screenshots of each page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.demoproc import DemoProcess, start_demo

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoProcess]:
    d = start_demo("--speed", "600", "--start-hour", "14")
    yield d
    assert d.stop() == 0, "".join(d.lines)


def _wait_change(page: Any, selector: str, before: str, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = str(page.inner_text(selector))
        if now not in (before, "—"):
            return now
        page.wait_for_timeout(250)
    raise AssertionError(f"{selector} stayed {before!r} for {timeout_s} s")


def test_overview_numbers_and_chart_update(demo: DemoProcess, chromium: Any) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(demo.url + "/")
    page.wait_for_selector(".live-dot.on", timeout=30_000)
    first_time = _wait_change(page, "[data-testid=model-time]", "—")
    first_load = page.inner_text("[data-testid=load-h1]")
    assert first_load.endswith("W")
    assert page.inner_text("[data-testid=soc-h1]").endswith("%")
    assert page.inner_text("[data-testid=pv-h3]").endswith("W")
    _wait_change(page, "[data-testid=model-time]", first_time)
    _wait_change(page, "[data-testid=load-h1]", first_load)
    # the flow chart is drawn by plotly and grows as the day goes on
    page.wait_for_selector("#flows-chart .scatterlayer .trace", timeout=30_000)

    def points() -> int:
        return int(page.evaluate("document.getElementById('flows-chart').data[0].x.length"))

    n0 = points()
    deadline = time.monotonic() + 30
    while points() <= n0 and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert points() > n0
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)
    page.close()


@pytest.mark.parametrize(
    ("path", "selector", "shot"),
    [
        ("/houses/h1/meter", "[data-testid=meter-power]", "meter.png"),
        ("/houses/h1/pv", "[data-testid=pv-power]", "pv-battery.png"),
    ],
)
def test_house_pages_live(
    demo: DemoProcess, chromium: Any, path: str, selector: str, shot: str
) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(demo.url + path)
    value = _wait_change(page, selector, "—")
    _wait_change(page, selector, value)
    if "pv" in path:
        assert page.inner_text("[data-testid=pv-soc]").endswith("%")
    page.wait_for_selector("#day-chart .scatterlayer .trace", timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / shot), full_page=True)
    page.close()
