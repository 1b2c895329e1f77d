"""The live trading agent on the in-process chain (pyrevm)."""

from __future__ import annotations

from dataclasses import replace

from gridpeer.chain import Schedule, open_chain
from gridpeer.chain.types import PREF_PARTNER, SignedOrder, cost_wei
from gridpeer.coordinator.service import Coordinator
from gridpeer.hems.trading_agent import OwnerSettings, SlotView
from gridpeer.hems.trading_live import TradingAgent

T = 1_800_000_000
FEED_IN, IMPORT = 50 * 10**12, 150 * 10**12


def view(net: float, progress: float) -> SlotView:
    return SlotView(net, 0.0, 0.0, 0.5, 0.0, 13.0, FEED_IN, IMPORT, progress)


def setup() -> tuple[object, object, list[object]]:
    chain = open_chain("revm", genesis_time=T)
    market = chain.deploy_market()
    market.set_schedule(chain.admin, Schedule("open"))
    return chain, market, chain.houses(2, market)


def test_decentralized_posts_reprices_and_respects_switch_off() -> None:
    _chain, market, (h1, h2) = setup()
    window = (T + 3600, T + 7200)
    agent = TradingAgent(market, h1)  # type: ignore[arg-type]
    [_o] = agent.act(window, view(500.0, 0.0))
    oid, price0, _ = agent.posted[(window, "sell")]
    assert market.order(oid).remaining_wh == 500  # type: ignore[attr-defined]
    assert agent.act(window, view(500.0, 0.0)) == []  # same price: nothing to do
    market.buy(h2, oid, 100)  # type: ignore[attr-defined]
    [_o2] = agent.act(window, view(500.0, 0.5))  # ramped toward feed-in: re-posted
    new_id, price1, _ = agent.posted[(window, "sell")]
    assert price1 < price0 and new_id != oid
    assert market.order(new_id).remaining_wh == 400  # type: ignore[attr-defined]
    assert market.order(oid).remaining_wh == 0  # type: ignore[attr-defined]
    buyer = TradingAgent(market, h2, settings=OwnerSettings(enabled=False))  # type: ignore[arg-type]
    assert buyer.act(window, view(-300.0, 0.0)) == []
    buyer.settings = replace(buyer.settings, enabled=True, buy_wh=50)
    [b] = buyer.act(window, view(-300.0, 0.0))
    assert b.side == "buy" and b.energy_wh == 50


def test_centralized_signs_once_per_window_and_coordinator_accepts() -> None:
    chain, market, (h1, _) = setup()
    window = (T + 3600, T + 7200)
    coord = Coordinator(
        market,
        chain.coordinator,
        {h1.address: "h1"},  # type: ignore[attr-defined]
        now=lambda: T + 10,
    )
    got: list[SignedOrder] = []

    def submit(o: SignedOrder) -> None:
        coord.submit(o)
        got.append(o)

    agent = TradingAgent(market, h1, mode="centralized", submit=submit)  # type: ignore[arg-type]
    assert len(agent.act(window, view(400.0, 0.0))) == 1
    assert agent.act(window, view(400.0, 0.5)) == []
    assert got[0].terms.wh == 400 and got[0].terms.sell and got[0].terms.nonce == 1


def test_centralized_buy_orders_carry_the_owners_preferences() -> None:
    chain, market, (h1, h2) = setup()
    window = (T + 3600, T + 7200)
    coord = Coordinator(
        market,  # type: ignore[arg-type]
        chain.coordinator,  # type: ignore[attr-defined]
        {h1.address: "h1", h2.address: "h2"},  # type: ignore[attr-defined]
        now=lambda: T + 10,
    )
    got: list[SignedOrder] = []

    def submit(o: SignedOrder) -> None:
        coord.submit(o)
        got.append(o)

    partner = market.member(h1.address)[0]  # type: ignore[attr-defined]
    premium = 10 * 10**12
    agent = TradingAgent(
        market,  # type: ignore[arg-type]
        h2,  # type: ignore[arg-type]
        mode="centralized",
        submit=submit,
        prefs=PREF_PARTNER,
        premium=premium,
        partner=partner,
    )
    [b] = agent.act(window, view(-300.0, 0.0))
    t = got[0].terms
    assert b.side == "buy" and (t.prefs, t.premium, t.partner) == (PREF_PARTNER, premium, partner)
    # it deposited the worst case: every Wh at its limit plus the premium
    assert market.credit(h2.address) == cost_wei(t.wh, t.price + premium)  # type: ignore[attr-defined]
    default = TradingAgent(market, h1, mode="centralized", submit=submit)  # type: ignore[arg-type]
    default.act(window, view(-200.0, 0.0))
    assert (got[-1].terms.prefs, got[-1].terms.premium, got[-1].terms.partner) == (0, 0, 0)


def test_decentralized_takes_acceptable_orders_from_the_book_first() -> None:
    _chain, market, (h1, h2) = setup()
    window = (T + 3600, T + 7200)
    seller = TradingAgent(market, h1)  # type: ignore[arg-type]
    seller.act(window, view(500.0, 0.0))
    oid = seller.posted[(window, "sell")][0]

    def book(w: tuple[int, int]) -> list[object]:
        return [o for o in (market.order(oid),) if o is not None]  # type: ignore[attr-defined]

    buyer = TradingAgent(market, h2, book=book)  # type: ignore[arg-type]
    buyer.act(window, view(-200.0, 0.0))  # the seller asks more than the buyer bids
    assert buyer.traded[(window, "buy")] == 0
    req = buyer.posted[(window, "buy")]
    assert req[2] == 200
    buyer2 = TradingAgent(
        market,
        h2,
        book=book,  # type: ignore[arg-type]
        settings=OwnerSettings(price_wei_per_kwh=IMPORT, buy_wh=120),
    )
    assert len(buyer2.act(window, view(-120.0, 0.0))) == 1
    assert buyer2.traded[(window, "buy")] == 120 and (window, "buy") not in buyer2.posted
    assert market.order(oid).remaining_wh == 380  # type: ignore[attr-defined]
    seller.act(window, view(500.0, 0.0))  # sees the 120 Wh sold, does not re-offer them
    assert seller.traded[(window, "sell")] == 120
    assert seller.posted[(window, "sell")] == (oid, seller.posted[(window, "sell")][1], 380)
