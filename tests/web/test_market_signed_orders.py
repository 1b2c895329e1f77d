"""End to end in Chromium, centralized and hybrid markets: two members trade through an
EIP-1193 wallet injected into the page (signs locally, forwards JSON-RPC to a real anvil).
The buyer deposits credit from the page; each member signs an order with
``eth_signTypedData_v4`` and submits it to the coordinator, which matches them (at gate
closure at a uniform price, or on arrival in the hybrid market) and settles the batch on
chain at gate closure. Both see their order matched and settled with its trade, the last
clearing's price and volume, and the trade with its escrow taken from the buyer's credit
(its delivery and the oracle's settlement are the subject of the decentralized wallet
test and of tests/e2e). Screenshots go to a temp dir (or docs/screenshots with
GRIDPEER_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gridpeer.chain.accounts import dev_account
from gridpeer.chain.anvil import AnvilNode
from tests.web.demoproc import DemoProcess, start_demo
from tests.web.liveserver import shots_dir
from tests.web.test_accessibility import _audit
from tests.web.wallet import InjectedWallet

pytestmark = [pytest.mark.browser, pytest.mark.anvil]
SHOTS = shots_dir()
CLP = 10**12  # wei per CLP (the demo's currency)
# Records every state a signed order's row shows (the page refreshes about once a second).
WATCH_JS = """() => { window.__states = [];
  new MutationObserver(() => {
    for (const tr of document.querySelectorAll('#signed tr[data-state]')) {
      const s = tr.dataset.state;
      if (window.__states[window.__states.length - 1] !== s) window.__states.push(s);
    }
  }).observe(document.getElementById('signed'), {subtree: true, attributes: true, childList: true});
}"""


@pytest.fixture(scope="module", params=["centralized", "hybrid"])
def design(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def anvil(design: str) -> Iterator[str]:
    """An anvil of our own per design: the demo moves its chain time to the model clock
    (which never goes back, so each demo needs a fresh chain)."""
    with AnvilNode() as node:
        yield node.url


@pytest.fixture(scope="module")
def demo(anvil: str, design: str) -> Iterator[DemoProcess]:
    # 10:33 local (UTC-4): orders for delivery 13:00-14:00 are taken for 49 s of wall time
    # at 180x (an hour is 20 s), until the gate closes 60 model s (1/3 s) before 13:00.
    # Agents off: two people trade by hand (agents would share their keys and nonces).
    d = start_demo(
        "--chain", anvil, "--design", design, "--speed", "180", "--start-hour", "14.55",
        "--no-agents",
    )  # fmt: skip
    yield d
    assert d.stop() == 0, "".join(d.lines)


def _page(chromium: Any, url: str, wallet: InjectedWallet) -> Any:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    wallet.install(context)
    page = context.new_page()
    page.goto(url + "/market")
    page.select_option("#signer", "wallet")
    page.wait_for_function(
        "document.querySelector('[data-testid=msg]').textContent.startsWith('Signed in as')",
        timeout=60_000,
    )
    page.evaluate(WATCH_JS)
    return page


def _msg_starts(page: Any, prefix: str) -> str:
    page.wait_for_function(
        f"document.querySelector('[data-testid=msg]').textContent.startsWith({prefix!r})",
        timeout=30_000,
    )
    return str(page.inner_text("[data-testid=msg]"))


def _sign(
    page: Any, side: str, wh: int, price_clp: int, partner: str = "", premium: int = 0
) -> str:
    page.wait_for_selector("[data-testid=order-window] option[value*='-']", state="attached")
    page.select_option("[data-testid=order-side]", side)
    page.fill("[data-testid=order-wh]", str(wh))
    page.fill("[data-testid=order-price]", str(price_clp))
    if partner:  # trading preference: energy from this house, paying a premium for it
        page.select_option("[data-testid=order-pref]", "1")
        page.select_option("[data-testid=order-partner]", partner)
        page.fill("[data-testid=order-premium]", str(premium))
    page.click("[data-testid=order-submit]")
    page.wait_for_function(  # the outcome, or the reason it was refused
        "(t => t.startsWith('Signed " + side + "') || t.startsWith('Order:'))"
        "(document.querySelector('[data-testid=msg]').textContent)",
        timeout=30_000,
    )
    return str(page.inner_text("[data-testid=msg]"))


def test_member_signs_order_sees_it_matched_at_gate_closure_and_settled(
    demo: DemoProcess, design: str, anvil: str, chromium: Any
) -> None:
    seller_wallet = InjectedWallet(anvil, dev_account("h1"))
    buyer_wallet = InjectedWallet(anvil, dev_account("h4"))
    seller = _page(chromium, demo.url, seller_wallet)
    buyer = _page(chromium, demo.url, buyer_wallet)

    # The page shows the design, the gate-closure countdown and the signed-order form,
    # not the decentralized forms.
    assert seller.inner_text("#st-design").startswith(design.capitalize())
    seller.wait_for_function(
        "document.querySelector('[data-testid=gate-countdown]').textContent.startsWith('in ')",
        timeout=30_000,
    )
    assert seller.query_selector("#sell-form") is None
    assert seller.query_selector("#offers") is None
    assert seller.inner_text("[data-testid=last-clearing]") == "none yet"

    # The buyer deposits 100 CLP of credit from the page (its wallet sends the tx).
    buyer.fill("[data-testid=deposit-amount]", "100")
    buyer.click("[data-testid=deposit-submit]")
    _msg_starts(buyer, "Sent from your wallet")
    buyer.wait_for_function(
        "document.querySelector('[data-testid=credit]').textContent.startsWith('100.00')",
        timeout=30_000,
    )

    # Each signs an order with its wallet (eth_signTypedData_v4) and submits it; the
    # buyer prefers energy from h1 (its partner) and pays 10 CLP/kWh more for it.
    assert "accepted" in _sign(seller, "sell", 300, 150)
    assert "accepted" in _sign(buyer, "buy", 300, 170, partner="h1", premium=10)
    for wallet, sell, price in ((seller_wallet, True, 150), (buyer_wallet, False, 170)):
        [typed] = wallet.typed
        assert typed["primaryType"] == "Order"
        msg = typed["message"]
        assert (msg["sell"], msg["wh"], int(msg["price"])) == (sell, 300, price * CLP)
        assert msg["expiry"] == msg["start"] and msg["nonce"] == 1
    msg = buyer_wallet.typed[0]["message"]
    h1_idx = httpx.get(demo.url + f"/api/market/nonce/{dev_account('h1').address}", timeout=10)
    assert (msg["prefs"], int(msg["premium"]), msg["partner"]) == (
        1, 10 * CLP, h1_idx.json()["member_index"]
    )  # fmt: skip
    h1 = dev_account("h1").address
    [mine] = httpx.get(demo.url + "/api/orders", params={"maker": h1}, timeout=10).json()
    assert mine["state"] in ("accepted", "matched", "settled")
    # what the coordinator stored is exactly what the wallet signed
    signed = seller_wallet.typed[0]["message"]
    assert {k: str(v) for k, v in mine["order"].items() if k != "maker"} == {
        k: str(v) for k, v in signed.items() if k != "maker"
    }
    assert mine["order"]["maker"].lower() == h1.lower() == signed["maker"].lower()
    for page in (seller, buyer):
        page.wait_for_selector("#signed tr[data-state]", timeout=30_000)

    # Centralized: at gate closure the coordinator serves the buyer's partner preference
    # first, at the seller's price plus the premium (150 + 10). Hybrid: the buy order
    # matched the resting sell order on arrival, at its price (150; the continuous book
    # does not honour preferences). Either way the batch is settled at gate closure:
    # both orders settled with their trade.
    price = 160 if design == "centralized" else 150
    for page in (seller, buyer):
        page.wait_for_selector("#signed tr[data-state='settled']", timeout=90_000)
        row = page.inner_text("#signed tr[data-state='settled']")
        assert "300 Wh" in row and "settled on chain" in row and "B" in row
        states = page.evaluate("window.__states")
        assert states[-1] == "settled"
        assert states == [s for s in ("accepted", "matched", "settled") if s in states]
        page.wait_for_selector(
            "[data-testid=last-clearing] >> text=1 trade, 300 Wh", timeout=30_000
        )
    row = buyer.inner_text("#signed tr[data-state='settled']")
    assert "prefers partner (+10.00 CLP/kWh)" in row
    honoured = "preference honoured: partner (300 of 300 Wh)"
    assert (honoured in row) == (design == "centralized")
    clearing = buyer.inner_text("[data-testid=last-clearing]")
    assert f"{price}.00 CLP/kWh" in clearing
    [c] = httpx.get(demo.url + "/api/market/clearings", timeout=10).json()
    assert (c["volume_wh"], int(c["price_wei_per_kwh"]), c["trades"]) == (300, price * CLP, 1)
    trade = buyer.wait_for_selector("#trades tr[data-trade]", timeout=30_000)
    assert "300 Wh" in trade.inner_text() and "bought" in trade.inner_text()
    buyer.screenshot(path=str(SHOTS / f"market-{design}.png"), full_page=True)

    h4 = dev_account("h4").address
    [tr] = httpx.get(demo.url + "/api/market/trades", params={"account": h4}, timeout=10).json()
    assert tr["price"] == str(price * CLP) and tr["wh"] == 300
    assert int(tr["escrow"]) == 300 * price * CLP // 1000  # escrowed from the deposit
    buyer.wait_for_selector(f"[data-testid=credit] >> text={100 - 300 * price // 1000}.00 CLP")
    assert len(buyer_wallet.sent) == 1  # the deposit; orders are signed, not sent
    assert seller_wallet.sent == []
    seller.context.close()
    buyer.context.close()


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_centralized_page_has_no_wcag_violations(
    demo: DemoProcess, anvil: str, chromium: Any, width: int
) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900})
    InjectedWallet(anvil, dev_account("h2")).install(context)
    page = context.new_page()
    try:
        page.goto(demo.url + "/market")
        page.select_option("#signer", "demo:h2")  # a demo house: the tables fill in
        page.wait_for_function("Number(document.body.dataset.refreshes || 0) >= 2")
        violations = _audit(page)
        assert violations == [], "\n".join(str(v) for v in violations)
    finally:
        context.close()


def test_order_form_is_reachable_by_keyboard(demo: DemoProcess, chromium: Any) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(demo.url + "/market")
        wanted = {"order-side", "order-wh", "order-price", "order-submit", "deposit-submit"}
        reached: set[str] = set()
        for _ in range(80):
            page.keyboard.press("Tab")
            key = page.evaluate("document.activeElement.dataset.testid || ''")
            reached |= {key} & wanted
            if reached == wanted:
                break
        assert reached == wanted, f"not reachable with Tab: {wanted - reached}"
    finally:
        page.close()
