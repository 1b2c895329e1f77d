"""Trading preferences in the live centralized market: the coordinator's clearing honours
the priority rule, batches with honoured preferences settle on chain (pyrevm), the
premium stays within what the buyer signed and paid == received."""

from __future__ import annotations

from datetime import UTC, datetime

from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gridpeer.chain.events import AdminEvent, TradeCreated
from gridpeer.chain.types import OrderTerms, cost_wei, decode_honoured
from gridpeer.coordinator.intake import OrderRejected
from gridpeer.coordinator.preferences import Community, clear_preferring
from gridpeer.market.clearing import GridPrices
from gridpeer.market.mechanisms import clear_orders, get_mechanism
from gridpeer.market.orders import Order, Side
from tests.coordinator.test_service import PRICE, Env

SLOT = datetime(2026, 1, 1, tzinfo=UTC)
COMMUNITY = Community(zones={"h1": "A", "h3": "A", "h2": "B", "h4": "B"}, green={"h2"})


def _order(oid: str, house: str, bid: bool, wh: int, price: int, prio: int) -> Order:
    side = Side.BID if bid else Side.ASK
    return Order(oid, house, side, wh, price, SLOT, prio)


def _terms(prefs: int = 0, premium: int = 0, partner: int = 0) -> OrderTerms:
    return OrderTerms("0x" + "00" * 20, False, 1, 1, 0, 0, 1, 0, prefs, premium, partner)


def test_no_preference_is_exactly_the_mechanism() -> None:
    orders = [
        _order("a1", "h1", False, 300, 100, 0),
        _order("a2", "h2", False, 200, 120, 1),
        _order("b1", "h3", True, 400, 150, 2),
    ]
    terms = {o.id: _terms() for o in orders}
    mech = get_mechanism("uniform")
    got = clear_preferring(mech, orders, terms, {}, COMMUNITY, GridPrices(0, 0))
    assert got == (clear_orders(mech, orders, GridPrices(0, 0))[1], {})


def test_partner_then_local_then_green_at_the_ask_plus_premium() -> None:
    orders = [
        _order("a1", "h1", False, 300, 100, 0),  # zone A, cheapest
        _order("a2", "h2", False, 300, 120, 1),  # zone B, green
        _order("b_green", "h3", True, 300, 150, 2),
        _order("b_partner", "h4", True, 100, 110, 3),  # limit below a2: no partner match
        _order("b_local", "h3", True, 200, 150, 4),
    ]
    terms = {o.id: _terms() for o in orders}
    terms["b_green"] = _terms(4, 7)
    terms["b_partner"] = _terms(1, 5, 2)  # partner: member 2 = h2
    terms["b_local"] = _terms(2, 3)
    mech = get_mechanism("uniform")
    matches, honoured = clear_preferring(
        mech, orders, terms, {2: "h2"}, COMMUNITY, GridPrices(0, 0)
    )
    got = {(m.buy_order, m.sell_order): (m.energy_wh, m.price_wei_per_kwh) for m in matches}
    assert honoured == {("b_local", "a1"): 2, ("b_green", "a2"): 3}
    assert got[("b_local", "a1")] == (200, 103)  # local served before green
    assert got[("b_green", "a2")] == (300, 127)
    # what is left (a1's 100 Wh; b_partner, whose partner asks above its limit) clears
    # in the general market without premiums
    assert got[("b_partner", "a1")][0] == 100
    assert sum(m.energy_wh for m in matches) == 600


def _buy(
    env: Env, who: LocalAccount, wh: int, price: int, prefs: int, premium: int, partner: int
) -> str:
    env.nonce[who.address] += 1
    t = OrderTerms(
        who.address,
        False,
        wh,
        price,
        env.start,
        env.end,
        env.nonce[who.address],
        env.start,
        prefs,
        premium,
        partner,
    )
    rec = env.coord.accept(env.market.sign_order(who, t))
    env.accepted.add(rec.id)
    return rec.id


def test_a_window_settles_honoured_preferences_on_chain() -> None:
    env = Env("centralized")
    env.coord = env.coordinator(community=COMMUNITY)
    s1, s2, b1, b2 = env.h  # h1 zone A; h2 zone B, green; h3 zone A; h4 zone B
    for b in (b1, b2):
        env.market.deposit(b, 10**18)
    idx2 = env.market.member(s2.address)[0]
    env.put(s1, True, 300, PRICE)
    env.put(s2, True, 300, 2 * PRICE)
    premium = PRICE // 4
    try:
        _buy(env, b1, 100, PRICE, 1, premium, env.market.member(b1.address)[0])
        raise AssertionError("own member index accepted as partner")
    except OrderRejected as exc:
        assert "own member index" in exc.reason
    b_partner = _buy(env, b1, 200, 2 * PRICE, 1, premium, idx2)
    b_plain = _buy(env, b2, 300, 2 * PRICE, 0, 0, 0)
    env.gate()
    env.check()
    trades = {
        (ev.trade.seller, ev.trade.buyer): ev.trade
        for ev in env.market.events(0)
        if isinstance(ev, TradeCreated)
    }
    partner_trade = trades[(s2.address, b1.address)]
    partner_id = partner_trade.id
    assert (partner_trade.wh, partner_trade.price) == (200, 2 * PRICE + premium)
    events = [ev for ev in env.market.events(0) if isinstance(ev, AdminEvent)]
    [hon] = [ev for ev in events if ev.name == "PreferencesHonoured"]
    [settled] = [ev for ev in events if ev.name == "BatchSettled"]
    codes = decode_honoured(hon.fields["honoured"], settled.fields["count"])
    assert sorted(codes) == [0] * (len(codes) - 1) + [1]
    assert hon.fields["trades"] == {partner_id: "partner"}
    assert env.state(b_partner) == ("settled", "preference honoured: partner (200 of 200 Wh)")
    assert env.state(b_plain)[1] == ""


pref_order = st.tuples(
    st.integers(0, 5),  # house
    st.booleans(),  # sell
    st.integers(1, 400),  # Wh
    st.integers(1, 8),  # limit, in PRICE units
    st.sampled_from([0, 1, 2, 4, 6, 7]),  # prefs (buys only)
    st.integers(0, 3),  # premium, in PRICE / 4
    st.integers(0, 5),  # partner house
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    orders=st.lists(pref_order, min_size=2, max_size=14),
    mechanism=st.sampled_from(["uniform", "pay_as_bid"]),
)
def test_preference_orders_settle_within_limit_plus_premium_and_paid_is_received(
    orders: list[tuple[int, bool, int, int, int, int, int]], mechanism: str
) -> None:
    env = Env("centralized", houses=6)
    zones = {f"h{i + 1}": "AB"[i % 2] for i in range(6)}
    env.coord = env.coordinator(
        mechanism=mechanism, community=Community(zones=zones, green={"h1", "h4"})
    )
    idx = [env.market.member(k.address)[0] for k in env.h]
    limits: dict[tuple[str, int], tuple[int, int]] = {}  # (maker, nonce) → (limit, premium)
    for h, sell, wh, p, prefs, prem, partner in orders:
        who = env.h[h]
        if sell:
            env.put(who, True, wh, p * PRICE)
            continue
        part = partner if partner != h else (h + 1) % 6
        premium = prem * PRICE // 4 if prefs else 0
        env.market.deposit(who, cost_wei(wh, p * PRICE + premium))
        _buy(env, who, wh, p * PRICE, prefs, premium, idx[part] if prefs & 1 else 0)
        limits[(who.address, env.nonce[who.address])] = (p * PRICE, premium)
    before = {k.address: env.market.credit(k.address) for k in env.h}
    env.gate()
    env.check()
    settled = [o for o in env.store.orders() if o.state == "settled"]
    by_trade: dict[int, list[str]] = {}
    for o in settled:
        for tid in o.trade_ids:
            by_trade.setdefault(tid, []).append(o.maker)
    paid: dict[str, int] = {}
    for o in settled:
        if o.sell:
            continue
        limit, premium = limits[(o.maker, o.nonce)]
        for tid in o.trade_ids:
            t = env.market.trade(tid)
            assert t is not None
            assert t.price <= limit + premium  # never above what the buyer signed
            paid[o.maker] = paid.get(o.maker, 0) + cost_wei(t.wh, t.price)
    for k in env.h:  # each buyer's credit paid exactly its trades' cost (escrow)
        bought = paid.get(k.address, 0)
        assert before[k.address] - env.market.credit(k.address) == bought
    # deliver everything: the sellers receive exactly what the buyers paid
    env.market.set_time(env.start + 1)
    sellers_before = sum(env.market.credit(k.address) for k in env.h)
    total = 0
    for tid in by_trade:
        t = env.market.trade(tid)
        assert t is not None
        env.market.confirm_delivery(env.chain.oracle, tid, t.wh)
        total += cost_wei(t.wh, t.price)
    assert sum(env.market.credit(k.address) for k in env.h) - sellers_before == total
    assert total == sum(paid.values())
    names = [ev.name for ev in env.market.events(0) if isinstance(ev, AdminEvent)]
    event(f"preferences honoured: {'PreferencesHonoured' in names}")
