"""Energy market API: status, offers, requests, trades, accounts, and the actions.

Every action is validated here first (clear 4xx reasons: window closed, amount above
what remains, own order, nothing to withdraw …) and then either

* ``signer = "wallet"``: returns the unsigned transaction for the signed-in wallet
  (Sign-In with Ethereum session required; the browser's wallet sends it), or
* ``signer = "demo:<house>"``: the server signs with the house's dev key (demo only).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from gridpeer.chain.client import MarketClient
from gridpeer.chain.errors import ContractRevert
from gridpeer.chain.events import Event, MoneyMoved, OrderPosted, TradeCreated
from gridpeer.chain.hub import ChainHub, TradeRow
from gridpeer.chain.types import Order, Schedule, id_kind
from gridpeer.web import limits
from gridpeer.web import schedule as sched
from gridpeer.web.auth import COOKIE
from gridpeer.web.context import WebContext, get_context
from gridpeer.web.live import day_bounds
from gridpeer.web.models import HouseInfo, Problem
from gridpeer.web.models_market import (
    AccountOut,
    ActionOut,
    AmountIn,
    MarketStatus,
    MarketSummary,
    OfferIn,
    OrderOut,
    PricePoint,
    SignerIn,
    TradeBrief,
    TradeOut,
    UnsignedTx,
    WindowOut,
)
from gridpeer.web.order_book import OrderBook
from gridpeer.web.units import trade_label

router = APIRouter(prefix="/api/market", tags=["market"])
Ctx = Annotated[WebContext, Depends(get_context)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem},
    403: {"model": Problem},
    404: {"model": Problem},
    409: {"model": Problem},
    503: {"model": Problem},
}
DESIGNS = {
    "decentralized": "Decentralized: members post offers and requests and pick each other's "
    "(thesis design)",
    "centralized": "Centralized: members sign orders; the coordinator clears them at gate "
    "closure and settles the batch on chain",
    "hybrid": "Hybrid: members sign orders; the coordinator matches them as they arrive and "
    "settles the matches on chain at gate closure",
}
"""Each market design (``[market] design``) in words."""


def hub_of(ctx: WebContext) -> ChainHub:
    """The chain hub, or 503 when this server runs without a chain."""
    if ctx.chain is None:
        raise HTTPException(503, "this server runs without a blockchain; trading is off")
    return ctx.chain


def trade_out(hub: ChainHub, t: TradeRow, now: int) -> TradeOut:
    """A trade with its phase and the elapsed share of its window (reclaim after the
    trade's own grace, fixed on chain when its order was posted)."""
    span = max(1, t.end - t.start)
    progress = min(1.0, max(0.0, (now - t.start) / span))
    if t.status != "open":
        phase = t.status
    elif t.disputed:
        phase = "disputed"
    elif now < t.start:
        phase = "before delivery"
    elif now < t.end:
        phase = "delivering"
    else:
        phase = "awaiting confirmation"
    return TradeOut(
        id=str(t.id),
        label=trade_label(t.id),
        seller=t.seller,
        buyer=t.buyer,
        seller_house=hub.house_of(t.seller),
        buyer_house=hub.house_of(t.buyer),
        wh=t.wh,
        price=str(t.price),
        start=t.start,
        end=t.end,
        escrow=str(t.escrow),
        status=t.status,
        phase=phase,
        progress=1.0 if t.status == "settled" else progress,
        delivered_wh=t.delivered_wh,
        seller_paid=None if t.seller_paid is None else str(t.seller_paid),
        buyer_refund=None if t.buyer_refund is None else str(t.buyer_refund),
        reclaimable_at=t.end + t.grace_s,
    )


@router.get("/status", response_model=MarketStatus, responses=_ERRORS, summary="Market now")
async def market_status(ctx: Ctx) -> MarketStatus:
    """Design, schedule, delivery windows open for bids, countdown, last trade."""
    hub = hub_of(ctx)
    s = await _schedule(hub)
    now = int(ctx.clock.timestamp())
    st = sched.status(s, now)
    last = max(hub.trades.values(), key=lambda t: t.block, default=None)
    session = _session(s, now)
    return MarketStatus(
        design=DESIGNS[ctx.design],
        design_id=ctx.design,
        gate_closes_at=_gate(ctx, s, now),
        schedule=sched.describe(s),
        mode=s.mode,
        tz_minutes=s.tz_minutes,
        now=now,
        chain_time=await hub.call(hub.market.now),
        bidding_open=bool(st.open_windows),
        open_windows=[
            WindowOut(bid_open=w.bid_open, start=w.start, end=w.end) for w in st.open_windows
        ],
        next_change=st.next_change,
        next_change_what=st.next_change_what,
        reason=st.reason,
        currency=ctx.currency,
        chain_id=hub.market.backend.chain_id,
        contract=hub.market.address,
        demo=bool(hub.demo_keys),
        last_trade=None
        if last is None
        else TradeBrief(
            id=str(last.id),
            label=trade_label(last.id),
            price=str(last.price),
            wh=last.wh,
            block=last.block,
        ),
        speed=ctx.clock.speed,
        session=session,
        tariff_import=str(ctx.tariff[0]),
        tariff_feed_in=str(ctx.tariff[1]),
    )


def _gate(ctx: WebContext, s: Schedule, now: int) -> str | None:
    """UTC ISO time of the next gate closure among the windows open for bids
    (centralized/hybrid designs), else None."""
    if ctx.design == "decentralized":
        return None
    gates = [w.start - ctx.gate_s for w in sched.status(s, now).open_windows]
    gate = min((g for g in gates if g > now), default=None)
    return None if gate is None else datetime.fromtimestamp(gate, UTC).isoformat()


def _session(s: Schedule, now: int) -> WindowOut | None:
    """The trading session going on at ``now`` (bidding or delivering), else the next."""
    w = sched.current(s, now)
    return None if w is None else WindowOut(bid_open=w.bid_open, start=w.start, end=w.end)


@router.get("/summary", response_model=MarketSummary, responses=_ERRORS, summary="Trading of a day")
def summary(
    ctx: Ctx,
    day: Annotated[
        date | None, Query(alias="date", description="day in the community's time zone")
    ] = None,
) -> MarketSummary:
    """Trades delivering on a day (the community's time zone): count, Wh, mean price,
    share of consumption, savings."""
    hub = hub_of(ctx)
    the_day = day or ctx.today()
    if not date(2000, 1, 1) <= the_day < date(2100, 1, 1):  # no data there, like telemetry
        raise HTTPException(404, f"no trades on {the_day}: dates run from 2000-01-01 to 2099-12-31")
    lo, hi = (int(t.timestamp()) for t in day_bounds(the_day, ctx.tz))
    rows = sorted(
        (t for t in hub.trades.values() if lo <= t.start < hi),
        key=lambda t: (t.start, t.id),
    )
    wh = sum(t.wh for t in rows)
    value = sum(t.wh * t.price for t in rows)
    load_wh = ctx.cache.overview.totals.today_load_wh if the_day == ctx.today() else 0
    imp, feed = ctx.tariff
    return MarketSummary(
        date=the_day.isoformat(),
        trades=len(rows),
        traded_wh=wh,
        delivered_wh=sum(t.delivered_wh or 0 for t in rows),
        avg_price=str(value // wh) if wh else None,
        share_p2p=min(1.0, wh / load_wh) if load_wh > 0 else 0.0,
        savings=str(wh * max(0, imp - feed) // 1000),
        prices=[PricePoint(start=t.start, price=str(t.price), wh=t.wh) for t in rows],
    )


State = Annotated[
    Literal["open", "closed", "all"],
    Query(
        description="open: bidding still open (can be taken); closed: the delivery window "
        "has started, the unsold Wh can no longer be taken; all: both"
    ),
]


def _orders(ctx: WebContext, side: str, state: str) -> Response:
    """The ``side`` list as JSON, from the indexer's memory (no chain call), each order
    rendered once (:class:`~gridpeer.web.order_book.OrderBook`)."""
    hub = hub_of(ctx)
    book = ctx.order_book
    if book is None or book.house_of != hub.house_of:
        book = ctx.order_book = OrderBook(trade_label, hub.house_of)
    book.update(hub.orders, hub.version)
    return Response(
        book.json(side, state, int(ctx.clock.timestamp())), media_type="application/json"
    )


@router.get("/offers", response_model=list[OrderOut], responses=_ERRORS, summary="Offers")
async def offers(ctx: Ctx, state: State = "open") -> Response:
    """Sell offers with Wh left, cheapest first; by default only those open for bidding
    (with ``all``, open ones first)."""
    return _orders(ctx, "offer", state)


@router.get("/requests", response_model=list[OrderOut], responses=_ERRORS, summary="Requests")
async def requests_(ctx: Ctx, state: State = "open") -> Response:
    """Purchase requests with Wh left, highest price first; by default only open ones
    (with ``all``, open ones first)."""
    return _orders(ctx, "request", state)


@router.get("/trades", response_model=list[TradeOut], responses=_ERRORS, summary="Trades")
async def trades(ctx: Ctx, account: str | None = None) -> list[TradeOut]:
    """Trades, newest first; with ``account`` only those it sold or bought."""
    hub = hub_of(ctx)
    now = int(ctx.clock.timestamp())
    rows = sorted(hub.trades.values(), key=lambda t: -t.block)
    if account is not None:
        a = account.lower()
        rows = [t for t in rows if a in (t.seller.lower(), t.buyer.lower())]
    return [trade_out(hub, t, now) for t in rows[:200]]


@router.get(
    "/accounts/{address}",
    response_model=AccountOut,
    responses=_ERRORS,
    summary="An account's balance and credit",
)
async def account(
    address: Annotated[
        str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="an Ethereum address, 0x + 40 hex")
    ],
    ctx: Ctx,
) -> AccountOut:
    """Ether balance and withdrawable credit (wei) of ``address``."""
    hub = hub_of(ctx)
    addr = _address(address)
    return await hub.call(account_out, hub, addr)


def account_out(hub: ChainHub, addr: str) -> AccountOut:
    """Balance, credit and membership of ``addr`` (chain thread)."""
    idx, active, _ = hub.market.member(addr)
    return AccountOut(
        address=addr,
        house=hub.house_of(addr),
        member=bool(idx and active),
        balance=str(hub.market.backend.balance(addr)),
        credit=str(hub.market.credit(addr)) if idx else "0",
    )


def _address(value: str) -> str:
    from eth_utils.address import is_address, to_checksum_address

    if not is_address(value):
        raise HTTPException(422, f"{value!r} is not an Ethereum address (0x + 40 hex digits)")
    return str(to_checksum_address(value))


# ------------------------------------------------------------------------ actions
async def _actor(ctx: WebContext, request: Request, signer: str) -> tuple[str, str | None]:
    """(address, demo house or None) of who acts."""
    hub = hub_of(ctx)
    if signer.startswith("demo:"):
        house = signer.removeprefix("demo:")
        key = hub.demo_keys.get(house)
        if key is None:
            why = "no demo accounts on this server" if not hub.demo_keys else "unknown house"
            raise HTTPException(403, f"cannot act as demo house {house!r}: {why}")
        return key.address, house
    address = ctx.auth.session(request.cookies.get(COOKIE))
    if address is None:
        raise HTTPException(401, "sign in with your wallet (Sign-In with Ethereum) to trade")
    return address, None


async def _member(hub: ChainHub, address: str) -> None:
    idx, active, _ = await hub.call(hub.market.member, address)
    if not (idx and active):
        raise HTTPException(403, f"{address} is not a member of this community's market")


async def _perform(
    ctx: WebContext,
    address: str,
    house: str | None,
    action: str,
    result: str | None,
    **kw: int,
) -> ActionOut:
    hub = hub_of(ctx)
    await hub.call(hub.sync_time)  # the contract checks windows against block time
    tx = await hub.call(hub.market.build_tx, action, **kw)
    if house is None:
        return ActionOut(
            tx=UnsignedTx.model_validate(
                {
                    "from": address,
                    "to": tx.to,
                    "data": tx.data,
                    "value": hex(tx.value),
                    "gas": hex(tx.gas),
                    "chainId": hex(hub.market.backend.chain_id),
                }
            )
        )
    key = hub.demo_keys[house]

    def send() -> ActionOut:
        hub.sync_time()
        market: MarketClient = hub.market
        r = market.send_tx(key, tx)
        value = _result_of(market.receipt_events(r)) if result else None
        hub.poll()
        if action == "withdraw":
            return ActionOut(tx_hash="0x" + r.tx_hash.hex(), amount=value, fee=str(r.fee_wei))
        return ActionOut(
            tx_hash="0x" + r.tx_hash.hex(),
            id=value,
            label=None if value is None else trade_label(int(value)),
            fee=str(r.fee_wei),
        )

    try:
        return await hub.call(send)
    except ContractRevert as exc:
        raise HTTPException(409, f"the market refused: {exc}") from exc


def _result_of(events: list[Event]) -> str | None:
    for ev in events:
        if isinstance(ev, OrderPosted):
            return str(ev.order.id)
        if isinstance(ev, TradeCreated):
            return str(ev.trade.id)
        if isinstance(ev, MoneyMoved):
            return str(ev.amount)
    return None


async def _schedule(hub: ChainHub) -> Schedule:
    if hub.schedule is not None:
        return hub.schedule
    s: Schedule = await hub.call(hub.market.schedule)
    return s


async def _check_window(ctx: WebContext, hub: ChainHub, start: int, end: int) -> None:
    s = await _schedule(hub)
    why = sched.check_window(s, int(ctx.clock.timestamp()), start, end)
    if why is not None:
        raise HTTPException(409, f"delivery window refused: {why}")


async def _open_order(hub: ChainHub, oid: str, side: str) -> Order:
    try:
        n = int(oid)
    except ValueError:
        raise HTTPException(422, f"{oid!r} is not an order id") from None
    order = await hub.call(hub.market.order, n) if 0 < n < 2**256 else None
    if order is None or order.side != side:
        raise HTTPException(404, f"no {side} {oid}")
    if order.remaining_wh == 0:
        raise HTTPException(409, f"{side} {oid} is closed (nothing remains)")
    return order


async def _post(
    body: OfferIn, ctx: WebContext, request: Request, action: str, id_event: str
) -> ActionOut:
    """Post an offer (``post_offer``) or an escrowed request (``post_request``)."""
    hub = hub_of(ctx)
    address, house = await _actor(ctx, request, body.signer)
    await _member(hub, address)
    await _check_window(ctx, hub, body.start, body.end)
    seconds = body.end - body.start
    why = limits.price_problem(body.price, ctx.tariff, ctx.currency)
    if why is None and action == "post_offer":
        why = limits.sell_problem(_house(ctx, hub, address), body.wh, seconds)
    elif why is None:
        why = limits.buy_problem(body.wh, seconds)
    if why is not None:
        raise HTTPException(422, why)
    return await _perform(
        ctx,
        address,
        house,
        action,
        id_event,
        wh=body.wh,
        price=body.price,
        start=body.start,
        end=body.end,
    )


async def _take(
    order_id: str, body: AmountIn, ctx: WebContext, request: Request, side: str
) -> tuple[str, str | None, Order]:
    """Checks shared by buying from an offer and selling into a request; returns the
    caller's address, house and the order."""
    hub = hub_of(ctx)
    address, house = await _actor(ctx, request, body.signer)
    await _member(hub, address)
    order = await _open_order(hub, order_id, side)
    if order.owner.lower() == address.lower():
        raise HTTPException(409, f"you cannot trade with your own {side}")
    if body.wh > order.remaining_wh:
        raise HTTPException(409, f"only {order.remaining_wh} Wh remain in {side} {order_id}")
    if int(ctx.clock.timestamp()) >= order.start:
        raise HTTPException(409, f"the {side}'s delivery window has started; bidding is closed")
    seconds = order.end - order.start
    if side == "request":  # the caller sells into it
        why = limits.sell_problem(_house(ctx, hub, address), body.wh, seconds)
    else:
        why = limits.buy_problem(body.wh, seconds)
    if why is not None:
        raise HTTPException(422, why)
    return address, house, order


def _house(ctx: WebContext, hub: ChainHub, address: str) -> HouseInfo | None:
    """The community house whose account is ``address`` (demo key or configured)."""
    a = address.lower()
    for h in ctx.houses:
        if h.account is not None and h.account.lower() == a:
            return h
    name = hub.house_of(address)
    return None if name is None else ctx.house(name)


@router.post("/offers", response_model=ActionOut, responses=_ERRORS, summary="Post an offer")
async def post_offer(body: OfferIn, ctx: Ctx, request: Request) -> ActionOut:
    """Sell ``wh`` Wh at ``price`` wei/kWh for delivery in [start, end)."""
    return await _post(body, ctx, request, "post_offer", "offerId")


@router.post(
    "/requests", response_model=ActionOut, responses=_ERRORS, summary="Post a purchase request"
)
async def post_request(body: OfferIn, ctx: Ctx, request: Request) -> ActionOut:
    """Ask for ``wh`` Wh at up to ``price`` wei/kWh; the exact cost is escrowed."""
    return await _post(body, ctx, request, "post_request", "requestId")


@router.post(
    "/offers/{offer_id}/buy",
    response_model=ActionOut,
    responses=_ERRORS,
    summary="Buy from an offer",
)
async def buy(offer_id: str, body: AmountIn, ctx: Ctx, request: Request) -> ActionOut:
    """Buy ``wh`` Wh (all or part) of an offer; the exact cost is escrowed."""
    address, house, order = await _take(offer_id, body, ctx, request, "offer")
    return await _perform(
        ctx, address, house, "buy", "tradeId", offer_id=order.id, wh=body.wh, price=order.price
    )


@router.post(
    "/requests/{request_id}/sell",
    response_model=ActionOut,
    responses=_ERRORS,
    summary="Sell into a request",
)
async def sell(request_id: str, body: AmountIn, ctx: Ctx, request: Request) -> ActionOut:
    """Deliver ``wh`` Wh (all or part) of a purchase request."""
    address, house, order = await _take(request_id, body, ctx, request, "request")
    return await _perform(ctx, address, house, "fill", "tradeId", request_id=order.id, wh=body.wh)


@router.post(
    "/orders/{order_id}/cancel",
    response_model=ActionOut,
    responses=_ERRORS,
    summary="Cancel an own offer or request",
)
async def cancel(order_id: str, body: SignerIn, ctx: Ctx, request: Request) -> ActionOut:
    """Cancel what remains of an own order (a request's escrow is refunded)."""
    hub = hub_of(ctx)
    address, house = await _actor(ctx, request, body.signer)
    side = "offer" if order_id.isdigit() and id_kind(int(order_id)) == "offer" else "request"
    order = await _open_order(hub, order_id, side)
    if order.owner.lower() != address.lower():
        raise HTTPException(403, f"order {order_id} is not yours")
    return await _perform(ctx, address, house, "cancel", None, order_id=order.id)


@router.post(
    "/trades/{trade_id}/reclaim",
    response_model=ActionOut,
    responses=_ERRORS,
    summary="Reclaim an unconfirmed trade's escrow",
)
async def reclaim(trade_id: str, body: SignerIn, ctx: Ctx, request: Request) -> ActionOut:
    """Buyer: take the escrow back when the oracle did not confirm by window end + grace."""
    hub = hub_of(ctx)
    address, house = await _actor(ctx, request, body.signer)
    row = await hub.call(hub.trade, int(trade_id)) if trade_id.isdigit() else None
    if row is None:
        raise HTTPException(404, f"no trade {trade_id}")
    if row.status != "open":
        raise HTTPException(409, f"trade {trade_id} is already {row.status}")
    if row.buyer.lower() != address.lower():
        raise HTTPException(403, "only the buyer can reclaim a trade")
    if row.disputed:
        raise HTTPException(409, f"trade {trade_id} is disputed: the community's admin decides")
    if int(ctx.clock.timestamp()) < row.end + row.grace_s:
        raise HTTPException(
            409, f"reclaim opens at {row.end + row.grace_s} (window end + the trade's grace)"
        )
    return await _perform(ctx, address, house, "reclaim", None, trade_id=row.id)


@router.post("/withdraw", response_model=ActionOut, responses=_ERRORS, summary="Withdraw credit")
async def withdraw(body: SignerIn, ctx: Ctx, request: Request) -> ActionOut:
    """Pay out the caller's withdrawable credit (wei) to its account."""
    hub = hub_of(ctx)
    address, house = await _actor(ctx, request, body.signer)
    credit = await hub.call(hub.market.credit, address)
    if credit == 0:
        raise HTTPException(409, "nothing to withdraw: your credit is 0")
    return await _perform(ctx, address, house, "withdraw", "amount")
