"""Replay simulated trades on the EnergyMarket contract (``--settlement revm|chain``).

Every contracted trade of a slot goes through the real contract like a decentralized
trade: the seller posts an offer for the slot's 15-minute delivery window, the buyer
buys it with the exact cost in escrow, and after the window the oracle confirms the
metered (delivered) Wh, which pays the seller and refunds the rest to the buyer.
``revm`` runs the committed bytecode in-process (pyrevm); ``chain`` uses the embedded
web3 chain (same bytecode, much slower). Trades at price 0 (bill sharing) move no
money and are not posted (the contract refuses zero prices).

At the end each house's on-chain money (credit in the contract minus the escrow it
sent) must equal the engine's P2P accounting (received minus paid, wei); a mismatch
raises :class:`SettlementMismatch`. Chain time is the simulated slot time shifted to
start one day after the chain's genesis (slot ``g`` starts ``g * 900`` s later).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from rich.console import Console

from gridpeer.chain import MarketClient, Schedule, cost_wei, open_chain
from gridpeer.sim.engine import RunConfig, SimResult
from gridpeer.sim.market_adapter import Trades

SLOT_S = 900
BID_LEAD_S = 600  # orders are posted and bought 10 minutes before the slot starts
I64 = npt.NDArray[np.int64]


class SettlementMismatch(AssertionError):
    """The chain's balances differ from the engine's accounting."""


@dataclass
class ChainReport:
    """Outcome of the on-chain replay (money in wei)."""

    trades: int = 0
    transactions: int = 0
    gas_used: int = 0
    skipped_zero_price: int = 0
    net_wei: list[int] = field(default_factory=list)

    def to_text(self, kind: str) -> str:
        """A small key,value CSV for the report folder."""
        rows = [
            ("settlement", kind),
            ("trades", self.trades),
            ("transactions", self.transactions),
            ("gas_used", self.gas_used),
            ("gas_per_trade", self.gas_used // self.trades if self.trades else 0),
            ("skipped_zero_price_trades", self.skipped_zero_price),
            ("chain_equals_engine", "true"),
        ]
        return "key,value\n" + "".join(f"{k},{v}\n" for k, v in rows)


class ChainSettler:
    """Posts, buys and confirms every trade on the contract; checks balances at the end."""

    def __init__(self, kind: str, config: RunConfig) -> None:
        self.kind = kind
        self.chain = open_chain("revm" if kind == "revm" else "embedded")
        self.market: MarketClient = self.chain.deploy_market()
        self.market.set_schedule(self.chain.admin, Schedule("continuous", 0, 15))
        self.houses = self.chain.houses(config.houses, self.market)
        self.index = [self.market.member(h.address)[0] for h in self.houses]
        self.start0 = (self.market.now() // 86_400 + 1) * 86_400
        self.escrow_sent = [0] * config.houses
        self.fees_paid = [0] * config.houses
        self.eth0 = [self.chain.backend.balance(h.address) for h in self.houses]
        self.report = ChainReport()
        self.pending: list[tuple[int, int, int]] = []  # (trade id, delivered Wh, window end)

    def _count(self, house: int | None) -> None:
        """Add the last transaction's gas (and its fee to ``house``, the sender)."""
        r = self.market.last_receipt
        assert r is not None
        self.report.gas_used += r.gas_used
        self.report.transactions += 1
        if house is not None:
            self.fees_paid[house] += r.fee_wei

    def _advance(self, ts: int) -> None:
        self.market.set_time(max(ts, self.market.now() + 1))

    def _confirm_due(self, now: int) -> None:
        """Oracle confirms the metered Wh of every trade whose window has ended."""
        due = [p for p in self.pending if p[2] <= now]
        self.pending = [p for p in self.pending if p[2] > now]
        for tid, dwh, _ in due:
            self.market.confirm_delivery(self.chain.oracle, tid, dwh)
            self._count(None)

    def on_slot(self, slot: int, contracted: Trades, delivered_wh: I64) -> None:
        """Confirm ended deliveries, then post and buy this slot's trades (slot index ``slot``)."""
        start = self.start0 + slot * SLOT_S
        end = start + SLOT_S
        if self.pending or len(contracted):
            self._advance(start - BID_LEAD_S)
            self._confirm_due(self.market.now())
        for b, s, wh, price, dwh in zip(
            contracted.buyer.tolist(),
            contracted.seller.tolist(),
            contracted.wh.tolist(),
            contracted.price.tolist(),
            delivered_wh.tolist(),
            strict=True,
        ):
            if price == 0:
                self.report.skipped_zero_price += 1
                continue
            oid = self.market.post_offer(self.houses[s], wh, price, start, end)
            self._count(s)
            tid = self.market.buy(self.houses[b], oid, wh, price)
            self._count(b)
            self.escrow_sent[b] += cost_wei(wh, price)
            self.pending.append((tid, dwh, end))
            self.report.trades += 1

    def summary_csv(self) -> str:
        """``key,value`` lines about the settlement (trades, transactions, gas)."""
        return self.report.to_text(self.kind)

    def chain_net_wei(self) -> list[int]:
        """Per house: credit held in the contract minus escrow sent, wei."""
        return [
            self.market.credit_of_index(i) - sent
            for i, sent in zip(self.index, self.escrow_sent, strict=True)
        ]

    def finish(self, result: SimResult, console: Console | None = None) -> None:
        """Check the chain against the engine; raise :class:`SettlementMismatch` if not equal."""
        if self.pending:
            self._advance(max(p[2] for p in self.pending))
            self._confirm_due(self.market.now())
        h = result.ledger.house
        engine = (h["p2p_received_wei"] - h["p2p_paid_wei"]).tolist()
        chain = self.chain_net_wei()
        self.report.net_wei = chain
        for k, acct in enumerate(self.houses):  # ether left only as escrow and gas fees
            spent = self.eth0[k] - self.chain.backend.balance(acct.address)
            if spent != self.escrow_sent[k] + self.fees_paid[k]:
                house = result.population.ids[k]
                raise SettlementMismatch(
                    f"{house}: sent {spent} wei, escrow {self.escrow_sent[k]} wei "
                    f"+ fees {self.fees_paid[k]} wei"
                )
        credits = sum(self.market.credit_of_index(i) for i in self.index)
        if self.market.balance() != credits:
            raise SettlementMismatch(
                f"contract holds {self.market.balance()} wei but credits are {credits} wei"
            )
        bad = [
            (result.population.ids[k], c, e)
            for k, (c, e) in enumerate(zip(chain, engine, strict=True))
            if c != e
        ]
        if bad:
            raise SettlementMismatch(f"chain != engine (house, chain wei, engine wei): {bad[:5]}")
        if console is not None:
            console.print(
                f"settlement {self.kind}: {self.report.trades} trades, "
                f"{self.report.transactions} transactions, {self.report.gas_used:,} gas on the "
                "contract; every house's chain balance equals the engine's accounting"
            )
