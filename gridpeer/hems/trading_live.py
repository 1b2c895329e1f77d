"""The live trading agent of one house: turns :func:`~gridpeer.hems.trading_agent.decide`
into orders on the market the community runs.

* decentralized – posts an offer (surplus) or an escrowed request (deficit) on chain;
  when its price changes across the bidding window (ramping strategy) it cancels the
  unfilled order and posts the rest at the new price;
* centralized / hybrid – signs the order (EIP-712) once per window and hands it to the
  coordinator.

Owners change :attr:`TradingAgent.settings` at any time (override or switch off).
Units: energy Wh, prices wei per kWh, times UTC unix seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount

from gridpeer.chain.client import MarketClient
from gridpeer.chain.types import OrderTerms, SignedOrder
from gridpeer.hems.trading_agent import Intent, OwnerSettings, SlotView, decide

log = logging.getLogger(__name__)

Window = tuple[int, int]


@dataclass
class TradingAgent:
    """Posts one house's orders for each delivery window.

    Attributes:
        market: chain client.
        key: the house's key.
        mode: ``decentralized``, ``centralized`` or ``hybrid``.
        settings: the owner's settings (change them to override or switch off).
        submit: for centralized/hybrid, hands a signed order to the coordinator.
    """

    market: MarketClient
    key: LocalAccount
    mode: str = "decentralized"
    settings: OwnerSettings = field(default_factory=OwnerSettings)
    submit: Callable[[SignedOrder], object] | None = None
    posted: dict[tuple[Window, str], tuple[int, int]] = field(default_factory=dict)
    signed: set[Window] = field(default_factory=set)
    _nonce: int = 0

    def act(self, window: Window, view: SlotView) -> list[Intent]:
        """Decide for ``window`` now and post what changed; returns the intents acted on."""
        intents = decide(self.settings, view)
        if self.mode == "decentralized":
            return [i for i in intents if self._post(window, i)]
        if window in self.signed or not intents:
            return []
        if self.submit is None:
            raise ValueError(f"{self.mode} market needs a coordinator submit function")
        if self._nonce == 0:
            self._nonce = self.market.member(self.key.address)[2]
        for i in intents:
            self._nonce += 1
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
            self.submit(self.market.sign_order(self.key, terms))
        self.signed.add(window)
        return intents

    def _post(self, window: Window, intent: Intent) -> bool:
        key = (window, intent.side)
        wh, price = intent.energy_wh, intent.price_wei_per_kwh
        if key in self.posted:
            order_id, old_price = self.posted[key]
            if old_price == price:
                return False
            order = self.market.order(order_id)
            if order is None or order.remaining_wh == 0:
                return False  # already traded
            self.market.cancel(self.key, order_id)
            wh = min(wh, order.remaining_wh)
        if intent.side == "sell":
            oid = self.market.post_offer(self.key, wh, price, window[0], window[1])
        else:
            oid = self.market.post_request(self.key, wh, price, window[0], window[1])
        self.posted[key] = (oid, price)
        log.info(
            "%s: %s %s Wh at %s wei/kWh for %s", self.key.address, intent.side, wh, price, window
        )
        return True
