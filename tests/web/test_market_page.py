"""The market page in Debian's Chromium against the app on a real embedded chain: typed
amounts survive refreshes, closed orders have no Buy button, ``/docs`` works offline,
browsers get HTML error pages; screenshots of every page at desktop and phone width."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.web.liveserver import LiveServer, live_server, review_dir

pytestmark = pytest.mark.browser
PRICE = 150 * 10**12  # 150 CLP/kWh


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with live_server() as srv:
        yield srv


def _offer(live: LiveServer, house: str, wh: int) -> str:
    st = httpx.get(live.url + "/api/market/status", timeout=10).json()
    w = st["open_windows"][0]
    body = {
        "signer": f"demo:{house}",
        "wh": wh,
        "price": PRICE,
        "start": w["start"],
        "end": w["end"],
    }
    r = httpx.post(live.url + "/api/market/offers", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def _refreshes(page: Any) -> int:
    return int(page.evaluate("Number(document.body.dataset.refreshes || 0)"))


def test_typed_amount_and_focus_survive_refreshes(live: LiveServer, chromium: Any) -> None:
    oid = _offer(live, "h1", 800)
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live.url + "/market")
    page.select_option("#signer", "demo:h3")
    amt = f"#amt-{oid}"
    page.wait_for_selector(amt)
    page.fill(amt, "123")
    page.focus(amt)
    n0 = _refreshes(page)
    # meanwhile another house buys part of the offer: the row's numbers change under the input
    r = httpx.post(
        f"{live.url}/api/market/offers/{oid}/buy", json={"signer": "demo:h2", "wh": 100}, timeout=30
    )
    assert r.status_code == 200, r.text
    page.wait_for_function(f"Number(document.body.dataset.refreshes) >= {n0 + 3}", timeout=30_000)
    page.wait_for_selector(f"tr[data-order='{oid}'] >> text=700 Wh", timeout=30_000)
    assert page.input_value(amt) == "123"
    assert page.evaluate("document.activeElement.id") == f"amt-{oid}"
    assert page.get_attribute(amt, "max") == "700"
    # the label is short, the id stays in the title
    label = page.inner_text(f"tr[data-order='{oid}'] .tid")
    assert label == f"O{int(oid) >> 2}"
    page.click(f"[data-testid=buy-{oid}]")
    page.wait_for_function(
        "document.querySelector('[data-testid=msg]').textContent.startsWith('Bought: trade')",
        timeout=30_000,
    )
    assert f"O{int(oid) >> 2}.2" in page.inner_text("[data-testid=msg]")
    page.wait_for_selector(f"tr[data-order='{oid}'] >> text=577 Wh", timeout=30_000)
    # an impossible amount gets the reason in words, in Wh
    page.fill("[data-testid=sell-wh]", "5000000")
    page.select_option("#signer", "demo:h1")
    page.wait_for_selector("[data-testid=sell-window] option[value*='-']", state="attached")
    page.wait_for_selector("[data-testid=sell-hint] >> text=At most 8,000 Wh", timeout=30_000)
    assert "Price 60.00 CLP/kWh–180.00 CLP/kWh" in page.inner_text("[data-testid=sell-hint]")
    page.click("[data-testid=sell-submit]")
    page.wait_for_function(
        "document.querySelector('[data-testid=msg]').textContent.includes('can deliver')",
        timeout=30_000,
    )
    assert "5,000 kWh is more than House 1 can deliver in 1 h" in page.inner_text(
        "[data-testid=msg]"
    )
    page.close()


def test_withdraw_says_the_amount_in_the_currency_and_the_gas(
    live: LiveServer, chromium: Any
) -> None:
    st = httpx.get(live.url + "/api/market/status", timeout=10).json()
    w = st["open_windows"][0]
    body = {"signer": "demo:h3", "wh": 100, "price": PRICE, "start": w["start"], "end": w["end"]}
    rid = httpx.post(live.url + "/api/market/requests", json=body, timeout=30).json()["id"]
    cancel = httpx.post(
        f"{live.url}/api/market/orders/{rid}/cancel", json={"signer": "demo:h3"}, timeout=30
    )
    assert cancel.status_code == 200, cancel.text
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live.url + "/market")
    page.select_option("#signer", "demo:h3")
    page.wait_for_selector("[data-testid=withdraw]:not([disabled])", timeout=30_000)
    page.click("[data-testid=withdraw]")
    page.wait_for_function(
        "document.querySelector('[data-testid=msg]').textContent.startsWith('Withdrew')",
        timeout=30_000,
    )
    text = page.inner_text("[data-testid=msg]")
    assert text.startswith("Withdrew 15.00 CLP to your account; gas cost "), text
    fee = float(text.split("gas cost ")[1].split(" CLP")[0].replace(",", ""))
    assert ("cost more than the credit withdrawn" in text) == (fee > 15.0)
    page.close()


def test_closed_offer_has_no_buy_button(live: LiveServer, chromium: Any) -> None:
    oid = _offer(live, "h2", 300)
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live.url + "/market")
    page.select_option("#signer", "demo:h3")
    page.wait_for_selector(f"[data-testid=buy-{oid}]")
    # model time moves past the window's start: bidding for it has ended
    order = next(o for o in httpx.get(live.url + "/api/market/offers").json() if o["id"] == oid)
    ahead = order["start"] - int(live.ctx.clock.timestamp()) + 600
    live.ctx.clock.start += timedelta(seconds=ahead)
    page.wait_for_selector(f"#closed tr[data-closed='{oid}']", state="attached", timeout=30_000)
    assert page.query_selector(f"[data-testid=buy-{oid}]") is None
    assert page.query_selector(f"#offers tr[data-order='{oid}']") is None
    assert page.query_selector("#closed button") is None
    assert not page.is_visible(f"#closed tr[data-closed='{oid}']")  # history starts collapsed
    page.click("[data-testid=closed-orders] summary")
    assert page.is_visible(f"#closed tr[data-closed='{oid}']")
    assert "300 Wh unsold" in page.inner_text(f"#closed tr[data-closed='{oid}']")
    page.close()


def test_docs_render_offline(live: LiveServer, chromium: Any) -> None:
    page = chromium.new_page()
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_loopback)
    page.goto(live.url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert page.locator(".swagger-ui .opblock").count() > 20
    assert outside == []
    page.close()


def test_browsers_get_html_errors_and_api_clients_json(live: LiveServer, chromium: Any) -> None:
    page = chromium.new_page()
    resp = page.goto(live.url + "/houses/h9/meter")
    assert resp is not None and resp.status == 404
    assert "text/html" in resp.headers["content-type"]
    assert "unknown house 'h9'" in page.inner_text("[data-testid=error-detail]")
    assert page.query_selector("a[href='/houses/h1/meter']") is not None
    page.close()
    r = httpx.get(live.url + "/houses/h9/meter", headers={"accept": "application/json"})
    assert r.status_code == 404 and r.json() == {"detail": "unknown house 'h9'"}
    r = httpx.get(live.url + "/api/houses/h9/latest", headers={"accept": "text/html"})
    assert r.status_code == 404 and "detail" in r.json()


PAGES = ["/", "/houses/h1/meter", "/houses/h1/pv", "/market", "/explorer", "/houses/h9/pv"]


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_of_every_page(live: LiveServer, chromium: Any, width: int) -> None:
    """Every page at desktop and phone width, with no telemetry yet (the "no data" states);
    no page may throw a JavaScript error."""
    page = chromium.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for path in PAGES:
        page.goto(live.url + path)
        page.wait_for_timeout(1500)
        name = (path.strip("/").replace("/", "-") or "overview") + f"-nodata-{width}.png"
        page.screenshot(path=str(review_dir() / name), full_page=True)
    assert errors == []
    page.close()
