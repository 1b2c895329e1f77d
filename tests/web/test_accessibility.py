"""Accessibility audit of every page with axe-core (npm, ``node_modules/axe-core``) in
Debian's Chromium: WCAG 2.1 A and AA rules (labels, names, contrast, landmarks, ARIA,
language), at desktop and phone width, after the live data has arrived; plus the
keyboard: every control of the market page is reachable with Tab and shows its focus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.demoproc import DemoProcess, start_demo

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PAGES = ["/", "/houses", "/houses/h1/meter", "/houses/h1/pv", "/market", "/explorer"]
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoProcess]:
    # 10:36 local (UTC-4): bidding is open, so the market page shows its forms enabled.
    d = start_demo("--speed", "120", "--start-hour", "14.6")
    yield d
    assert d.stop() == 0, "".join(d.lines)


def _audit(page: Any) -> list[dict[str, Any]]:
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: run `make node` (npm install)")
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
            "why": v["nodes"][0]["failureSummary"] if v["nodes"] else "",
        }
        for v in result["violations"]
    ]


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_wcag_violations(
    demo: DemoProcess, chromium: Any, path: str, width: int
) -> None:
    page = chromium.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(demo.url + path)
        page.wait_for_timeout(2500)  # live values in, charts drawn
        violations = _audit(page)
        assert violations == [], "\n".join(str(v) for v in violations)
    finally:
        page.close()


def test_market_controls_are_reachable_by_keyboard(demo: DemoProcess, chromium: Any) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(demo.url + "/market")
        page.wait_for_selector("[data-testid=sell-window] option[value*='-']", state="attached")
        wanted = {"signer", "sell-wh", "sell-price", "sell-submit"}
        reached: set[str] = set()
        outlines: dict[str, str] = {}
        for _ in range(60):
            page.keyboard.press("Tab")
            info = page.evaluate(
                """() => { const e = document.activeElement; const s = getComputedStyle(e);
                   return {id: e.id, testid: e.dataset ? e.dataset.testid : null,
                           outline: s.outlineStyle + ' ' + s.outlineWidth,
                           shadow: s.boxShadow}; }"""
            )
            key = info["testid"] or info["id"]
            if key in wanted:
                reached.add(key)
                outlines[key] = f"{info['outline']} / {info['shadow']}"
            if reached == wanted:
                break
        assert reached == wanted, f"not reachable with Tab: {wanted - reached}"
        for key, style in outlines.items():  # a visible focus ring on each
            assert not style.startswith("none"), (key, style)
    finally:
        page.close()
