"""Settlement: who pays whom for one cleared slot, and for deviations from contracts.

**Slot bills** (:func:`settle_slot`). Every match moves ``Wh * price // 1000`` wei from
buyer to seller (the same integer on both sides). Bid energy not matched is imported
from the grid at the import price, ask energy not matched is exported at the feed-in
price; grid money is rounded down per house and slot. Fees on P2P energy go to the
operator. The no-P2P *baseline* prices all bid Wh at import and all ask Wh at feed-in.
Invariant (tested): sum of house net costs == grid net income + operator fees.

**Deviations** (:func:`settle_delivery`). A match of ``c`` Wh at ``p`` wei/kWh delivered
``d`` Wh: the buyer pays the seller for ``min(c, d)`` Wh at ``p``. A shortfall
``c - d`` is replaced from the grid by the buyer, and the seller compensates the buyer
at the rule's shortfall price; an excess ``d - c`` is paid by the buyer at the rule's
excess price. Rule ``grid`` (default): shortfall compensated at ``import - p`` (so the
buyer pays what it contracted), excess paid at the feed-in price (what the seller would
have earned exporting). Rule ``none``: no compensation, excess unpaid. A
:class:`FixedDeviationPrices` rule sets both prices explicitly (wei/kWh). Every line is
a transfer between two parties, so the parties' bills add up to zero exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridpeer.market.clearing import Clearing, GridPrices
from gridpeer.market.money import payment_wei, payments_wei_array
from gridpeer.market.orders import OrderArrays
from gridpeer.market.tariff import Fee, Payer

IntArray = npt.NDArray[np.int64]
_SAFE = 2**62
_INT64_MAX = 2**63 - 1
_EXACT_FLOAT = 2**53
_EXACT_SPLIT_MAX = 2**20  # n * 2^32 < 2^53 keeps both half-sums exact in float64


def sum_by(index: IntArray, values: IntArray, n: int) -> IntArray:
    """Exact integer sums of int64 ``values`` grouped by ``index`` into ``n`` bins (int64).

    Raises:
        OverflowError: a sum could leave the int64 range.
    """
    if values.size == 0:
        return np.zeros(n, dtype=np.int64)
    bound = float(np.abs(values).sum(dtype=np.float64))  # >= |any bin's sum|, ~exact
    if bound < _EXACT_FLOAT:  # float64 bincount is exact below 2^53
        return np.bincount(index, values, n).astype(np.int64)
    if bound >= _SAFE:
        raise OverflowError("amounts too large for int64 per-house sums")
    if values.size < _EXACT_SPLIT_MAX:  # split in 32-bit halves: each bincount is exact
        lo = values & 0xFFFFFFFF
        hi = values >> 32
        lo_sum = np.bincount(index, lo, n).astype(np.int64)
        hi_sum = np.bincount(index, hi, n).astype(np.int64)
        return (hi_sum << 32) + lo_sum
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, index, values)
    return out


def exact_sum(x: IntArray) -> int:
    """Exact sum of an int64 array as a Python int (no overflow), summing 32-bit halves."""
    if x.size == 0:
        return 0
    if x.size >= _EXACT_SPLIT_MAX:
        return sum(int(v) for v in x.tolist())
    return (int((x >> 32).sum()) << 32) + int((x & 0xFFFFFFFF).sum())


def _welfare(surplus: IntArray, wh: IntArray) -> int:
    """Exact sum of surplus (wei/kWh) × Wh, in wei·Wh/kWh (divide by 1000 for wei)."""
    if surplus.size == 0:
        return 0
    if int(np.abs(surplus).max()) * int(wh.max()) < _INT64_MAX:
        return exact_sum(surplus * wh)
    return sum(int(a) * int(b) for a, b in zip(surplus.tolist(), wh.tolist(), strict=True))


def _per_house_wei(wh: IntArray, price: int) -> IntArray:
    return payments_wei_array(wh, np.full(wh.size, price, dtype=np.int64))


@dataclass(frozen=True)
class SlotBills:
    """Per-house outcome of one slot (arrays indexed by house, length ``n_houses``).

    Energy in Wh, money in wei; ``net_cost_wei`` > 0 means the house pays.
    """

    p2p_bought_wh: IntArray
    p2p_sold_wh: IntArray
    grid_import_wh: IntArray
    grid_export_wh: IntArray
    p2p_paid_wei: IntArray
    p2p_received_wei: IntArray
    fees_paid_wei: IntArray
    grid_paid_wei: IntArray
    grid_received_wei: IntArray
    baseline_cost_wei: IntArray
    welfare_wei: int
    """Social welfare of the P2P matches: sum of (bid - ask) * Wh // 1000, wei."""

    @property
    def net_cost_wei(self) -> IntArray:
        """What each house pays in total minus what it receives, wei."""
        return (
            self.p2p_paid_wei
            + self.fees_paid_wei
            + self.grid_paid_wei
            - self.p2p_received_wei
            - self.grid_received_wei
        )

    @property
    def operator_fees_wei(self) -> int:
        """Fees collected by the operator, wei."""
        return int(self.fees_paid_wei.sum())

    @property
    def grid_net_income_wei(self) -> int:
        """Utility's import revenue minus feed-in payments, wei."""
        return int(self.grid_paid_wei.sum()) - int(self.grid_received_wei.sum())


def settle_slot(
    book: OrderArrays,
    clearing: Clearing,
    grid: GridPrices,
    n_houses: int,
    fees: Sequence[Fee] = (),
) -> SlotBills:
    """Bills of one cleared slot (see module doc). ``n_houses`` > every house index."""
    n = len(book)
    m = clearing.matches
    bought = sum_by(m.buy, m.energy_wh, n)
    sold = sum_by(m.sell, m.energy_wh, n)
    if np.any(bought > np.where(book.is_bid, book.energy_wh, 0)) or np.any(
        sold > np.where(book.is_bid, 0, book.energy_wh)
    ):
        raise ValueError("clearing matches more Wh than an order holds, or on the wrong side")
    h = book.house
    bid_wh = sum_by(h, np.where(book.is_bid, book.energy_wh, 0), n_houses)
    ask_wh = sum_by(h, np.where(book.is_bid, 0, book.energy_wh), n_houses)
    p2p_in = sum_by(h, bought, n_houses)
    p2p_out = sum_by(h, sold, n_houses)
    pay = payments_wei_array(m.energy_wh, m.price)
    paid = sum_by(h[m.buy], pay, n_houses)
    received = sum_by(h[m.sell], pay, n_houses)
    fee_b = np.zeros(n_houses, dtype=np.int64)
    fee_s = np.zeros(n_houses, dtype=np.int64)
    for fee in fees:
        total = payments_wei_array(m.energy_wh, np.full(len(m), fee.wei_per_kwh, np.int64))
        seller_part = {Payer.BUYER: 0 * total, Payer.SELLER: total, Payer.SPLIT: total // 2}
        s_part = seller_part[fee.payer]
        fee_b += sum_by(h[m.buy], total - s_part, n_houses)
        fee_s += sum_by(h[m.sell], s_part, n_houses)
    imp_wh = bid_wh - p2p_in
    exp_wh = ask_wh - p2p_out
    bp = book.price[m.buy]
    ap = book.price[m.sell]
    welfare = _welfare(bp - ap, m.energy_wh)
    return SlotBills(
        p2p_bought_wh=p2p_in,
        p2p_sold_wh=p2p_out,
        grid_import_wh=imp_wh,
        grid_export_wh=exp_wh,
        p2p_paid_wei=paid,
        p2p_received_wei=received,
        fees_paid_wei=fee_b + fee_s,
        grid_paid_wei=_per_house_wei(imp_wh, grid.import_wei_per_kwh),
        grid_received_wei=_per_house_wei(exp_wh, grid.feed_in_wei_per_kwh),
        baseline_cost_wei=_per_house_wei(bid_wh, grid.import_wei_per_kwh)
        - _per_house_wei(ask_wh, grid.feed_in_wei_per_kwh),
        welfare_wei=welfare // 1000,
    )


class DeviationRule(enum.StrEnum):
    """How shortfalls and excesses are priced (see module doc)."""

    GRID = "grid"
    NONE = "none"


@dataclass(frozen=True)
class FixedDeviationPrices:
    """Explicit deviation prices.

    Attributes:
        shortfall_wei_per_kwh: seller → buyer compensation per kWh not delivered.
        excess_wei_per_kwh: buyer → seller payment per kWh delivered beyond the contract.
    """

    shortfall_wei_per_kwh: int
    excess_wei_per_kwh: int

    def __post_init__(self) -> None:
        if self.shortfall_wei_per_kwh < 0 or self.excess_wei_per_kwh < 0:
            raise ValueError("deviation prices must be >= 0 wei/kWh")


def deviation_prices(
    rule: DeviationRule | str | FixedDeviationPrices, price_wei_per_kwh: int, grid: GridPrices
) -> FixedDeviationPrices:
    """The (shortfall, excess) prices of a rule for a match at ``price_wei_per_kwh``."""
    if isinstance(rule, FixedDeviationPrices):
        return rule
    try:
        named = DeviationRule(rule)
    except ValueError:
        raise ValueError(f"unknown deviation rule {rule!r}; use 'grid' or 'none'") from None
    if named is DeviationRule.NONE:
        return FixedDeviationPrices(0, 0)
    return FixedDeviationPrices(
        max(grid.import_wei_per_kwh - price_wei_per_kwh, 0), grid.feed_in_wei_per_kwh
    )


@dataclass(frozen=True)
class Transfer:
    """``wei`` moves from ``payer`` to ``payee`` (parties: "buyer", "seller", "grid")."""

    payer: str
    payee: str
    wei: int
    reason: str


@dataclass(frozen=True)
class DeliverySettlement:
    """Result of settling one delivered match.

    Attributes:
        transfers: all money movements (each wei >= 0).
        delivered_wh, shortfall_wh, excess_wh: energy, Wh.
    """

    transfers: tuple[Transfer, ...]
    delivered_wh: int
    shortfall_wh: int
    excess_wh: int

    def net_wei(self, party: str) -> int:
        """Net cost of a party, wei (paid minus received; negative = income)."""
        return sum(t.wei for t in self.transfers if t.payer == party) - sum(
            t.wei for t in self.transfers if t.payee == party
        )


def escrow_split(contracted_wh: int, delivered_wh: int, price_wei_per_kwh: int) -> tuple[int, int]:
    """On-chain escrow settlement: (paid to seller, refunded to buyer), wei.

    The escrow is ``payment_wei(contracted)``; the seller gets ``payment_wei(min(delivered,
    contracted))``; the refund is the difference, so the two add up to the escrow exactly.
    """
    escrow = payment_wei(contracted_wh, price_wei_per_kwh)
    paid = payment_wei(min(max(delivered_wh, 0), contracted_wh), price_wei_per_kwh)
    return paid, escrow - paid


def settle_delivery(
    contracted_wh: int,
    delivered_wh: int,
    price_wei_per_kwh: int,
    grid: GridPrices,
    rule: DeviationRule | str | FixedDeviationPrices = DeviationRule.GRID,
) -> DeliverySettlement:
    """Settle a match of ``contracted_wh`` Wh at ``price_wei_per_kwh`` that delivered
    ``delivered_wh`` Wh (metered), under ``rule`` (see module doc)."""
    if contracted_wh <= 0 or delivered_wh < 0 or price_wei_per_kwh < 0:
        raise ValueError(
            f"need contracted > 0, delivered >= 0, price >= 0; got {contracted_wh} Wh, "
            f"{delivered_wh} Wh, {price_wei_per_kwh} wei/kWh"
        )
    dev = deviation_prices(rule, price_wei_per_kwh, grid)
    base = min(contracted_wh, delivered_wh)
    short = contracted_wh - base
    excess = delivered_wh - base
    tr = [Transfer("buyer", "seller", payment_wei(base, price_wei_per_kwh), "delivered")]
    if short:
        tr.append(
            Transfer("buyer", "grid", payment_wei(short, grid.import_wei_per_kwh), "replacement")
        )
        comp = payment_wei(short, dev.shortfall_wei_per_kwh)
        tr.append(Transfer("seller", "buyer", comp, "shortfall"))
    if excess:
        tr.append(
            Transfer("buyer", "seller", payment_wei(excess, dev.excess_wei_per_kwh), "excess")
        )
    return DeliverySettlement(tuple(t for t in tr if t.wei > 0), base, short, excess)
