"""Replay simulated trades on the EnergyMarket contract (``--settlement revm|chain``).

Every contracted trade goes through the real contract, the way its market design
would use it:

* ``order-book`` (decentralized, the thesis case): the seller posts an offer for the
  slot's 15-minute delivery window and the buyer buys it with the exact cost in escrow;
* every other design (centralized / hybrid): each trading house signs one order for
  the slot off-chain (EIP-712: its total Wh and, as limit, the worst price it accepted)
  and the coordinator settles the slot's matches in one batch, the buyers' escrow taken
  from the credit they deposited.

After the window the oracle confirms each trade's metered (delivered) Wh, which pays
the seller and refunds the rest of the escrow to the buyer. ``revm`` runs the
committed bytecode in-process (pyrevm); ``chain`` uses the embedded web3 chain (same
bytecode, much slower). Trades at price 0 (bill sharing) move no money and are not
posted (the contract refuses zero prices).

At the end each house's on-chain money (credit in the contract minus what it deposited
or sent as escrow) must equal the engine's P2P accounting (received minus paid, wei),
its ether must have left only as deposits, escrow and gas fees, and the contract must
hold exactly the members' credits; otherwise :class:`SettlementMismatch` is raised.
Chain time is the simulated slot time shifted to start one day after the chain's
genesis (slot ``g`` starts ``g * 900`` s later).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from rich.console import Console

from gridpeer.chain import (
    MarketClient,
    Match,
    OrderTerms,
    Schedule,
    batch_trade_id,
    cost_wei,
    open_chain,
)
from gridpeer.sim.engine import RunConfig, SimResult
from gridpeer.sim.market_adapter import Trades

SLOT_S = 900
BID_LEAD_S = 600  # orders are posted / signed 10 minutes before the slot starts
DEPOSIT_WEI = 10**21  # each house's credit for batch escrow (dev chain ether)
I64 = npt.NDArray[np.int64]


class SettlementMismatch(AssertionError):
    """The chain's balances differ from the engine's accounting."""


@dataclass
class ChainReport:
    """Outcome of the on-chain replay (money in wei)."""

    path: str = ""
    trades: int = 0
    batches: int = 0
    transactions: int = 0
    gas_used: int = 0
    skipped_zero_price: int = 0
    net_wei: list[int] = field(default_factory=list)

    def to_text(self, kind: str) -> str:
        """A small ``key,value`` CSV for the report folder."""
        rows = [
            ("settlement", kind),
            ("path", self.path),
            ("trades", self.trades),
            ("batches", self.batches),
            ("transactions", self.transactions),
            ("gas_used", self.gas_used),
            ("gas_per_trade", self.gas_used // self.trades if self.trades else 0),
            ("skipped_zero_price_trades", self.skipped_zero_price),
            ("chain_equals_engine", "true"),
        ]
        return "key,value\n" + "".join(f"{k},{v}\n" for k, v in rows)


class ChainSettler:
    """Settles every trade on the contract; checks balances at the end."""

    def __init__(self, kind: str, config: RunConfig) -> None:
        self.kind = kind
        self.batch = config.mechanism != "order-book"
        self.chain = open_chain("revm" if kind == "revm" else "embedded")
        self.market: MarketClient = self.chain.deploy_market()
        self.market.set_schedule(self.chain.admin, Schedule("continuous", 0, 15))
        self.houses = self.chain.houses(config.houses, self.market)
        self.index = [self.market.member(h.address)[0] for h in self.houses]
        self.start0 = (self.market.now() // 86_400 + 1) * 86_400
        n = config.houses
        self.escrow_sent = [0] * n  # ether sent with buy() (decentralized path)
        self.deposited = [0] * n  # ether deposited as credit (batch path)
        self.fees_paid = [0] * n
        self.eth0 = [self.chain.backend.balance(h.address) for h in self.houses]
        self.report = ChainReport(path="batch (EIP-712)" if self.batch else "offer/buy")
        self.pending: list[tuple[int, int, int]] = []  # (trade id, delivered Wh, window end)
        if self.batch:
            for k, h in enumerate(self.houses):
                self.market.deposit(h, DEPOSIT_WEI)
                self.deposited[k] += DEPOSIT_WEI
                self._count(k)

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
        """Confirm ended deliveries, then settle this slot's trades (slot index ``slot``)."""
        start = self.start0 + slot * SLOT_S
        paid = contracted.price > 0
        self.report.skipped_zero_price += int((~paid).sum())
        if not (self.pending or paid.any()):
            return
        self._advance(start - BID_LEAD_S)
        self._confirm_due(start - BID_LEAD_S)
        if not paid.any():
            return
        trades = Trades(
            contracted.buyer[paid],
            contracted.seller[paid],
            contracted.wh[paid],
            contracted.price[paid],
        )
        delivered = delivered_wh[paid].tolist()
        if self.batch:
            ids = self._settle_batch(slot, trades, start)
        else:
            ids = self._offer_and_buy(trades, start)
        self.pending.extend(
            (tid, dwh, start + SLOT_S) for tid, dwh in zip(ids, delivered, strict=True)
        )
        self.report.trades += len(ids)

    def _offer_and_buy(self, trades: Trades, start: int) -> list[int]:
        ids: list[int] = []
        for b, s, wh, price in trades.rows():
            oid = self.market.post_offer(self.houses[s], wh, price, start, start + SLOT_S)
            self._count(s)
            ids.append(self.market.buy(self.houses[b], oid, wh, price))
            self._count(b)
            self.escrow_sent[b] += cost_wei(wh, price)
        return ids

    def _settle_batch(self, slot: int, trades: Trades, start: int) -> list[int]:
        makers: list[tuple[int, bool]] = []
        index: dict[tuple[int, bool], int] = {}
        for h, sell in [(int(s), True) for s in np.unique(trades.seller)] + [
            (int(b), False) for b in np.unique(trades.buyer)
        ]:
            index[(h, sell)] = len(makers)
            makers.append((h, sell))
        signed = []
        for h, sell in makers:
            mine = (trades.seller if sell else trades.buyer) == h
            limit = int(trades.price[mine].min() if sell else trades.price[mine].max())
            terms = OrderTerms(
                maker=self.houses[h].address,
                sell=sell,
                wh=int(trades.wh[mine].sum()),
                price=limit,
                start=start,
                end=start + SLOT_S,
                nonce=slot + 1,
                expiry=start,
            )
            signed.append(self.market.sign_order(self.houses[h], terms))
        matches = [
            Match(index[(s, True)], index[(b, False)], wh, price)
            for b, s, wh, price in trades.rows()
        ]
        batch = self.market.settle_batch(self.chain.coordinator, signed, matches)
        self._count(None)
        self.report.batches += 1
        return [batch_trade_id(batch, i) for i in range(len(matches))]

    def summary_csv(self) -> str:
        """``key,value`` lines about the settlement (trades, transactions, gas)."""
        return self.report.to_text(self.kind)

    def chain_net_wei(self) -> list[int]:
        """Per house: credit held in the contract minus ether put in (deposits, escrow), wei."""
        return [
            self.market.credit_of_index(i) - sent - dep
            for i, sent, dep in zip(self.index, self.escrow_sent, self.deposited, strict=True)
        ]

    def finish(self, result: SimResult, console: Console | None = None) -> None:
        """Check the chain against the engine; raise :class:`SettlementMismatch` if not equal."""
        if self.pending:
            last_end = max(p[2] for p in self.pending)
            self._advance(last_end)
            self._confirm_due(last_end)
        h = result.ledger.house
        engine = (h["p2p_received_wei"] - h["p2p_paid_wei"]).tolist()
        chain = self.chain_net_wei()
        self.report.net_wei = chain
        for k, acct in enumerate(self.houses):  # ether left only as deposits, escrow, fees
            spent = self.eth0[k] - self.chain.backend.balance(acct.address)
            put_in = self.escrow_sent[k] + self.deposited[k] + self.fees_paid[k]
            if spent != put_in:
                raise SettlementMismatch(
                    f"{result.population.ids[k]}: ether down {spent} wei, expected {put_in} wei"
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
                f"settlement {self.kind} ({self.report.path}): {self.report.trades} trades, "
                f"{self.report.transactions} transactions, {self.report.gas_used:,} gas; every "
                "house's chain balance equals the engine's accounting"
            )
