"""The live trading agent of one house: turns :func:`~gridpeer.hems.trading_agent.decide`
into orders on the market the community runs.

* decentralized – first takes acceptable orders of other houses for the same window
  from the book (buys offers priced at or below its limit, fills requests at or above
  it, best price first), then posts the rest as an offer or an escrowed request; when
  its price changes across the bidding window (ramping strategy) it cancels its unfilled
  order and posts the rest at the new price;
* centralized / hybrid – signs one order (EIP-712) per window and side, priced at
  :data:`SIGNED_AT` of its price plan (or later in the window), and hands it to the
  coordinator (e.g. through its MQTT intake, :mod:`gridpeer.hems.order_sender`); the
  order expires at the window's start. Before a buy order it deposits the credit the
  order may cost at its limit price (the coordinator refuses a buy order its maker's
  credit does not cover).

Owners change :attr:`TradingAgent.settings` at any time (override or switch off).
Units: energy Wh, prices wei per kWh, times UTC unix seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from eth_account.signers.local import LocalAccount

from gridpeer.chain.client import MarketClient
from gridpeer.chain.errors import ContractRevert
from gridpeer.chain.types import Order, OrderTerms, SignedOrder, cost_wei
from gridpeer.hems.trading_agent import Intent, OwnerSettings, SlotView, decide

log = logging.getLogger(__name__)

Window = tuple[int, int]
Book = Callable[[Window], Sequence[Order]]
Strategy = Callable[[Window, OwnerSettings, SlotView], list[Intent]]
"""Decides a window's orders instead of the rule-based :func:`decide` (e.g.
:meth:`gridpeer.hems.trading_mpc.MpcHouse.intents`)."""
SIGNED_AT = 0.5
"""Share of the price plan (0..1) at which a signed order is priced: it is the house's one
limit for the window, so seller and buyer each concede half of their ramp (with the
default plans 114 and 126 CLP/kWh between tariffs of 60 and 180: the orders cross)."""


@dataclass
class TradingAgent:
    """Trades one house's surplus / deficit for each delivery window.

    Attributes:
        market: chain client.
        key: the house's key.
        mode: ``decentralized``, ``centralized`` or ``hybrid``.
        settings: the owner's settings (change them to override or switch off).
        book: open orders of a window (decentralized), e.g. from the web app's chain hub.
        submit: for centralized/hybrid, hands a signed order to the coordinator.
        strategy: decides the orders instead of the rule-based :func:`decide` (MPC).
        prefs: trading preferences of its signed buy orders (centralized): bit mask
            ``PREF_PARTNER | PREF_LOCAL | PREF_GREEN`` of :mod:`gridpeer.chain.types`;
            0 (the default) = none.
        premium: wei/kWh its buy orders add for energy that honours ``prefs``.
        partner: member index of the partner house (with ``PREF_PARTNER``), else 0.
    """

    market: MarketClient
    key: LocalAccount
    mode: str = "decentralized"
    settings: OwnerSettings = field(default_factory=OwnerSettings)
    book: Book | None = None
    submit: Callable[[SignedOrder], object] | None = None
    strategy: Strategy | None = None
    prefs: int = 0
    premium: int = 0
    partner: int = 0
    posted: dict[tuple[Window, str], tuple[int, int, int]] = field(default_factory=dict)
    """(window, side) → (order id, price, Wh open when last seen)."""
    traded: dict[tuple[Window, str], int] = field(default_factory=dict)
    signed: set[tuple[Window, str]] = field(default_factory=set)
    """(window, side) of the orders signed and handed to the coordinator."""
    held: dict[Window, int] = field(default_factory=dict)
    """Worst-case cost (wei) of the buy orders signed per window not yet started."""
    _nonce: int = 0

    def act(self, window: Window, view: SlotView) -> list[Intent]:
        """Decide for ``window`` now and trade what changed; returns the intents acted on."""
        if self.mode == "decentralized":
            return [i for i in self._decide(window, view) if self._trade(window, i)]
        # one sealed order per window: priced where the price plan has come halfway
        intents = self._decide(window, replace(view, progress=max(view.progress, SIGNED_AT)))
        intents = [i for i in intents if (window, i.side) not in self.signed]
        if not intents:
            return []
        if self.submit is None:
            raise ValueError(f"{self.mode} market needs a coordinator submit function")
        if self._nonce == 0:
            self._nonce = self.market.member(self.key.address)[2]
        for i in intents:  # one signed order per window and side; a failed one is retried
            self._nonce += 1  # (with a new nonce: the contract accepts gaps)
            terms = OrderTerms(
                self.key.address,
                i.side == "sell",
                i.energy_wh,
                i.price_wei_per_kwh,
                window[0],
                window[1],
                self._nonce,
                window[0],
            )
            if not terms.sell and self.prefs:
                terms = replace(terms, prefs=self.prefs, premium=self.premium, partner=self.partner)
            if not terms.sell:  # worst case: every Wh at the limit plus the premium
                self._fund(window, cost_wei(terms.wh, terms.price + terms.premium))
            self.submit(self.market.sign_order(self.key, terms))
            self.signed.add((window, i.side))
        return intents

    def _decide(self, window: Window, view: SlotView) -> list[Intent]:
        if self.strategy is not None:
            return self.strategy(window, self.settings, view)
        return decide(self.settings, view)

    def _fund(self, window: Window, cost: int) -> None:
        """Deposit what a buy order of ``cost`` wei (its limit price, the worst case) needs
        on top of this house's other buy orders still waiting for their window: the
        coordinator accepts a buy order only when the maker's credit covers them all."""
        now = self.market.now()
        self.held = {w: c for w, c in self.held.items() if w[0] > now}  # settled or dropped
        need = cost + sum(self.held.values()) - self.market.credit(self.key.address)
        if need > 0:
            self.market.deposit(self.key, need)
        self.held[window] = self.held.get(window, 0) + cost

    def _take(self, window: Window, intent: Intent, want: int) -> int:
        """Take acceptable counter-orders from the book; returns the Wh traded."""
        if self.book is None or want <= 0:
            return 0
        sell = intent.side == "sell"
        mine = self.key.address.lower()
        others = [
            o
            for o in self.book(window)
            if o.side == ("request" if sell else "offer")
            and o.owner.lower() != mine
            and o.remaining_wh > 0
            and (
                o.price >= intent.price_wei_per_kwh if sell else o.price <= intent.price_wei_per_kwh
            )
        ]
        others.sort(key=lambda o: -o.price if sell else o.price)
        got = 0
        for o in others:
            q = min(want - got, o.remaining_wh)
            if q <= 0:
                break
            try:
                if sell:
                    self.market.fill(self.key, o.id, q)
                else:
                    self.market.buy(self.key, o.id, q)
            except ContractRevert as exc:  # taken by someone else meanwhile
                log.info("%s: order %s not taken: %s", self.key.address, o.id, exc)
                continue
            got += q
        return got

    def _trade(self, window: Window, intent: Intent) -> bool:
        key = (window, intent.side)
        price = intent.price_wei_per_kwh
        resting = 0
        old = self.posted.get(key)
        acted = False
        if old is not None:  # count what others took from our resting order since last time
            order = self.market.order(old[0])
            resting = order.remaining_wh if order is not None else 0
            self.traded[key] = self.traded.get(key, 0) + old[2] - resting
            self.posted[key] = (old[0], old[1], resting)
            if resting > 0 and old[1] != price:  # re-price: withdraw the rest first
                self.market.cancel(self.key, old[0])
                del self.posted[key]
                resting = 0
                acted = True
        want = intent.energy_wh - self.traded.get(key, 0) - resting
        got = self._take(window, intent, want)
        self.traded[key] = self.traded.get(key, 0) + got
        want -= got
        acted = acted or got > 0
        resting_open = self.posted.get(key, (0, 0, 0))[2] > 0  # one resting order per side
        if want >= max(1, self.settings.min_order_wh) and not resting_open:
            if intent.side == "sell":
                oid = self.market.post_offer(self.key, want, price, window[0], window[1])
            else:
                oid = self.market.post_request(self.key, want, price, window[0], window[1])
            self.posted[key] = (oid, price, want)
            log.debug(
                "%s: %s %s Wh at %s wei/kWh for %s",
                self.key.address,
                intent.side,
                want,
                price,
                window,
            )
            acted = True
        return acted
