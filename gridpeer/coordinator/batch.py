"""Signed orders ↔ market orders ↔ an on-chain batch (pure).

The coordinator never changes an order: it only chooses which signed orders to include
and the matches between them. A batch built here is not refused on chain for any reason
known in advance:

* every match is checked as the contract checks it (sides, Wh left, price between the
  sell limit and the buy limit — plus the buyer's premium for a match that honours a
  preference the buyer signed, from the signed partner for a partner match —, no
  self-trade);
* each maker's orders appear in rising nonce order (the contract wants every order's
  nonce above the maker's last, and updates it order by order);
* its gas limit fits the block: matches are taken in order until the next would not fit
  (the rest waits for another batch);
* buyers' escrow is checked against their credit by :func:`unfunded` before sending.

Units: energy Wh, prices wei per kWh, money wei, gas units, times UTC unix seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address

from gridpeer.chain.client import batch_gas
from gridpeer.chain.types import Match as ChainMatch
from gridpeer.chain.types import SignedOrder, cost_wei
from gridpeer.market.orders import Order, Side
from gridpeer.market.trades import Match


def order_id(signed: SignedOrder) -> str:
    """A readable key of a signed order: ``<maker>:<nonce>`` (unique per maker)."""
    return f"{to_checksum_address(signed.terms.maker)}:{signed.terms.nonce}"


def signer_of(signed: SignedOrder, typed_data: dict[str, object]) -> str:
    """Address that signed ``typed_data`` (the EIP-712 ``Order`` of ``signed.terms``)."""
    msg = encode_typed_data(full_message=typed_data)
    vrs = (signed.v, int.from_bytes(signed.r, "big"), int.from_bytes(signed.s, "big"))
    return to_checksum_address(Account.recover_message(msg, vrs=vrs))


def to_market_order(signed: SignedOrder, house: str, priority: int, oid: str = "") -> Order:
    """A market :class:`Order` with the signed terms (sell → ask, buy → bid); its id is
    ``oid`` (default :func:`order_id`)."""
    t = signed.terms
    return Order(
        id=oid or order_id(signed),
        house=house,
        side=Side.ASK if t.sell else Side.BID,
        energy_wh=t.wh,
        price_wei_per_kwh=t.price,
        slot=datetime.fromtimestamp(t.start, UTC),
        priority=priority,
        expires_at=datetime.fromtimestamp(t.expiry, UTC),
    )


@dataclass(frozen=True)
class Batch:
    """A batch ready for ``settleBatch``.

    Attributes:
        ids: the included orders' ids, in batch order (makers' nonces rising).
        orders: the signed orders, same order.
        matches: chain matches (indices into ``orders``).
        kept: the market matches settled, same order as ``matches``.
        refused: matches the contract would refuse (self-trade, price outside the limits,
            more Wh than left).
        deferred: valid matches left for a later batch (gas), in their original order.
    """

    ids: list[str]
    orders: list[SignedOrder]
    matches: list[ChainMatch]
    kept: list[Match]
    refused: list[Match]
    deferred: list[Match]

    @property
    def gas(self) -> int:
        """Gas limit the client sends this batch with."""
        return batch_gas(len(self.orders), len(self.matches))


def build_batch(
    orders: Mapping[str, SignedOrder],
    matches: Sequence[Match],
    max_gas: int | None = None,
    rank: Mapping[str, int] | None = None,
    honoured: Mapping[tuple[str, str], int] | None = None,
) -> Batch:
    """The batch of ``matches`` over ``orders`` (by id) that the contract accepts.

    Only orders that take part in a kept match are included (an included order is
    consumed on chain: its nonce is used). With ``max_gas``, matches are taken in order
    until the batch's gas limit would exceed it; the rest are ``deferred``. Orders are
    sorted by maker (by ``rank``, the member index, when given: the contract keeps 8
    members' nonces in one storage word and writes it once per run of them), then nonce.
    ``honoured`` gives the preference code (1 partner, 2 local, 3 green) of matches that
    honour a buyer's preference, by (buy order id, sell order id); a partner match is
    kept only when ``rank`` (member index by address) names the seller as the partner.

    Raises:
        ValueError: a match names an unknown order.
    """
    left = {k: o.terms.wh for k, o in orders.items()}
    kept: list[Match] = []
    refused: list[Match] = []
    deferred: list[Match] = []
    used: dict[str, None] = {}
    codes = honoured or {}
    ranks = rank or {}
    for m in matches:
        if m.sell_order not in orders or m.buy_order not in orders:
            raise ValueError(f"match {m} names an order that was not submitted")
        s, b = orders[m.sell_order].terms, orders[m.buy_order].terms
        code = codes.get((m.buy_order, m.sell_order), 0)
        cap = b.price + b.premium if code else b.price
        if (
            not s.sell
            or b.sell
            or to_checksum_address(s.maker) == to_checksum_address(b.maker)
            or not s.price <= m.price_wei_per_kwh <= cap
            or (code and not (b.prefs >> (code - 1)) & 1)
            or (code == 1 and ranks.get(to_checksum_address(s.maker)) != b.partner)
            or m.energy_wh > min(left[m.sell_order], left[m.buy_order])
            or m.energy_wh <= 0
        ):
            refused.append(m)
            continue
        if deferred:
            deferred.append(m)
            continue
        new = sum(1 for k in (m.sell_order, m.buy_order) if k not in used)
        if max_gas is not None and batch_gas(len(used) + new, len(kept) + 1) > max_gas:
            deferred.append(m)
            continue
        left[m.sell_order] -= m.energy_wh
        left[m.buy_order] -= m.energy_wh
        used.setdefault(m.sell_order)
        used.setdefault(m.buy_order)
        kept.append(m)

    def key(k: str) -> tuple[int, str, int]:
        maker = to_checksum_address(orders[k].terms.maker)
        return ranks.get(maker, 0), maker, orders[k].terms.nonce

    ids = sorted(used, key=key)
    index = {k: i for i, k in enumerate(ids)}
    chain = [
        ChainMatch(
            index[m.sell_order],
            index[m.buy_order],
            m.energy_wh,
            m.price_wei_per_kwh,
            codes.get((m.buy_order, m.sell_order), 0),
        )
        for m in kept
    ]
    return Batch(ids, [orders[k] for k in ids], chain, kept, refused, deferred)


def buyer_debits(orders: Sequence[SignedOrder], matches: Sequence[ChainMatch]) -> dict[str, int]:
    """Escrow each buyer's credit must cover, wei (``wh * price // 1000`` per match, as
    the contract sums it)."""
    out: dict[str, int] = {}
    for m in matches:
        maker = to_checksum_address(orders[m.buy_index].terms.maker)
        out[maker] = out.get(maker, 0) + cost_wei(m.wh, m.price)
    return out


def unfunded(
    orders: Sequence[SignedOrder], matches: Sequence[ChainMatch], credit: Mapping[str, int]
) -> dict[str, tuple[int, int]]:
    """Buyers whose credit (wei, by checksummed address) does not cover their debits in
    this batch: address → (credit, needed)."""
    debits = buyer_debits(orders, matches)
    return {a: (credit.get(a, 0), d) for a, d in debits.items() if credit.get(a, 0) < d}


def nonces_rise(orders: Sequence[SignedOrder]) -> bool:
    """Whether each maker's nonces rise strictly along ``orders`` (the contract's rule)."""
    last: dict[str, int] = {}
    for o in orders:
        m = to_checksum_address(o.terms.maker)
        if o.terms.nonce <= last.get(m, 0):
            return False
        last[m] = o.terms.nonce
    return True
