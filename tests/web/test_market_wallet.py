"""End to end in Chromium: two houses trade through an EIP-1193 wallet injected into the
page that signs locally and forwards JSON-RPC to a real anvil node. House 1 posts an
offer, House 4 buys part of it; the trade goes through its delivery window, the oracle
settles it for the metered Wh, and both withdraw their credit. Screenshots of the
market (desktop and phone width) and the chain explorer are saved to a temp dir, or to
docs/screenshots/ with GRIDPEER_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gridpeer.chain.accounts import dev_account
from gridpeer.chain.anvil import AnvilNode, rpc
from tests.web.demoproc import DemoProcess, start_demo
from tests.web.liveserver import shots_dir
from tests.web.wallet import InjectedWallet

pytestmark = [pytest.mark.browser, pytest.mark.anvil]
SHOTS = shots_dir()  # docs/screenshots only with GRIDPEER_UPDATE_SCREENSHOTS=1


@pytest.fixture(scope="module")
def anvil() -> Iterator[str]:
    """An anvil of our own: the demo moves its chain time to the model clock."""
    with AnvilNode() as node:
        yield node.url


@pytest.fixture(scope="module")
def demo(anvil: str) -> Iterator[DemoProcess]:
    # 10:33 local (UTC-4): bids for delivery 13:00-14:00 (17-18 UTC) stay open for 49 s of
    # wall time at 180x (an hour is 20 s), ample for two sign-ins, an offer and a buy on a
    # loaded machine; the oracle settles right after 18:00 UTC.
    # Agents off: this test is two people trading by hand (agents would share their keys).
    d = start_demo("--chain", anvil, "--speed", "180", "--start-hour", "14.55", "--no-agents")
    yield d
    assert d.stop() == 0, "".join(d.lines)


def _wallet_page(chromium: Any, url: str, wallet: InjectedWallet, width: int = 1280) -> Any:
    context = chromium.new_context(viewport={"width": width, "height": 900})
    wallet.install(context)
    page = context.new_page()
    page.goto(url + "/market")
    return page


def _sign_in(page: Any) -> None:
    page.select_option("#signer", "wallet")
    page.wait_for_function(
        "document.querySelector('[data-testid=msg]').textContent.startsWith('Signed in as')",
        timeout=30_000,
    )


def test_wrong_chain_is_explained(demo: DemoProcess, anvil: str, chromium: Any) -> None:
    page = _wallet_page(chromium, demo.url, InjectedWallet(anvil, dev_account("h2"), chain_id=1))
    page.select_option("#signer", "wallet")
    page.wait_for_function(
        "document.querySelector('[data-testid=msg]').textContent.includes('Wrong network')",
        timeout=30_000,
    )
    assert "chain 1" in page.inner_text("[data-testid=msg]")
    page.context.close()


def test_offer_buy_deliver_settle_withdraw(demo: DemoProcess, anvil: str, chromium: Any) -> None:
    seller_wallet = InjectedWallet(anvil, dev_account("h1"))
    buyer_wallet = InjectedWallet(anvil, dev_account("h4"))
    seller = _wallet_page(chromium, demo.url, seller_wallet)
    buyer = _wallet_page(chromium, demo.url, buyer_wallet)
    _sign_in(seller)
    _sign_in(buyer)
    assert "wallet" in buyer.inner_text("[data-testid=who]")

    # House 1 offers 500 Wh at 150 CLP/kWh for the first open delivery window.
    seller.wait_for_selector("[data-testid=sell-window] option[value*='-']", state="attached")
    seller.fill("[data-testid=sell-wh]", "500")
    seller.fill("[data-testid=sell-price]", "150")
    seller.click("[data-testid=sell-submit]")
    seller.wait_for_function(
        "document.querySelector('[data-testid=msg]').textContent.startsWith('Sent from')",
        timeout=30_000,
    )
    assert len(seller_wallet.sent) == 1

    # House 4 sees it and buys 200 Wh of it (a partial amount).
    row = buyer.wait_for_selector("#offers tr[data-order]", timeout=30_000)
    offer_id = row.get_attribute("data-order")
    assert "House 1" in row.inner_text() and "500 Wh" in row.inner_text()
    buyer.fill(f"#amt-{offer_id}", "200")
    buyer.click(f"[data-testid=buy-{offer_id}]")
    trade = buyer.wait_for_selector("#trades tr[data-trade]", timeout=30_000)
    assert "200 Wh" in trade.inner_text() and "bought" in trade.inner_text()
    seller.wait_for_selector("#offers tr[data-order] >> text=300 Wh", timeout=30_000)
    buyer.screenshot(path=str(SHOTS / "market.png"), full_page=True)
    phone = _wallet_page(chromium, demo.url, InjectedWallet(anvil, dev_account("h4")), width=390)
    phone.wait_for_selector("#offers tr[data-order]", timeout=30_000)
    phone.screenshot(path=str(SHOTS / "market-phone.png"), full_page=True)
    phone.context.close()

    # The trade goes through its delivery window: the oracle commands both houses' relays,
    # their meters report, the contract pays the seller for what was delivered and refunds
    # the rest to the buyer. Each withdraws its credit from its wallet.
    buyer.wait_for_selector("#trades tr[data-phase='delivering']", timeout=90_000)
    buyer.wait_for_selector("#trades tr[data-phase='settled']", timeout=90_000)
    h1, h4 = dev_account("h1").address, dev_account("h4").address
    t = httpx.get(demo.url + "/api/market/trades", params={"account": h4}, timeout=10).json()[0]
    assert 0 < t["delivered_wh"] <= 200
    assert int(t["seller_paid"]) + int(t["buyer_refund"]) == int(t["escrow"])
    assert int(t["seller_paid"]) == t["delivered_wh"] * 150 * 10**12 // 1000
    before = int(rpc(anvil, "eth_blockNumber"), 16)  # type: ignore[call-overload]
    for page, owed in ((seller, int(t["seller_paid"])), (buyer, int(t["buyer_refund"]))):
        if owed == 0:
            continue
        page.wait_for_function(
            "!document.querySelector('[data-testid=credit]').textContent.startsWith('0.00')",
            timeout=30_000,
        )
        page.click("[data-testid=withdraw]")
        page.wait_for_function(
            "document.querySelector('[data-testid=credit]').textContent.startsWith('0.00')",
            timeout=30_000,
        )
    events = httpx.get(demo.url + "/api/chain/explorer", timeout=10).json()["events"]
    paid = {
        e["fields"]["member"]: int(e["fields"]["amount"])
        for e in events
        if e["name"] == "Withdrawn" and e["block"] > before
    }
    assert paid.get(h1) == int(t["seller_paid"])
    assert paid.get(h4, 0) == int(t["buyer_refund"])
    assert len(seller_wallet.sent) == 2  # offer, withdraw — both from the wallet
    assert len(buyer_wallet.sent) == (2 if int(t["buyer_refund"]) else 1)  # buy (+ withdraw)

    explorer = seller.context.new_page()
    explorer.goto(demo.url + "/explorer")
    explorer.wait_for_selector("[data-testid=events] >> text=Withdrawn", timeout=30_000)
    explorer.screenshot(path=str(SHOTS / "explorer.png"), full_page=True)
    seller.context.close()
    buyer.context.close()
