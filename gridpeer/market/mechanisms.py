"""All mechanisms behind one interface, by name, plus the object-level ``clear``.

=============  ==============================================================
name           mechanism
=============  ==============================================================
order_book     pick-and-take order book (thesis, decentralised)
uniform        uniform-price double auction, pay-as-clear (centralised)
pay_as_bid     pay-as-bid double auction (centralised)
cda            continuous double auction, price-time priority (hybrid)
mmr            mid-market rate (community pricing)
bill_sharing   bill sharing (community pricing)
sdr            supply-demand-ratio pricing (community pricing)
=============  ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any

from gridpeer.market.auction import PayAsBid, UniformPrice
from gridpeer.market.clearing import Clearing, GridPrices, Mechanism
from gridpeer.market.community import BillSharing, MidMarketRate, SupplyDemandRatio
from gridpeer.market.continuous import ContinuousDoubleAuction
from gridpeer.market.order_book import PickAndTake
from gridpeer.market.orders import Order, index_orders
from gridpeer.market.trades import Match, to_matches

MECHANISMS: dict[str, Callable[..., Mechanism]] = {
    "order_book": PickAndTake,
    "uniform": UniformPrice,
    "pay_as_bid": PayAsBid,
    "cda": ContinuousDoubleAuction,
    "mmr": MidMarketRate,
    "bill_sharing": BillSharing,
    "sdr": SupplyDemandRatio,
}


def get_mechanism(name: str, **params: Any) -> Mechanism:
    """Build a mechanism by name; ``params`` go to its constructor (e.g. ``k_num=1``).

    Raises:
        ValueError: unknown name or bad parameters.
    """
    try:
        factory = MECHANISMS[name]
    except KeyError:
        raise ValueError(
            f"unknown mechanism {name!r}; choose one of {sorted(MECHANISMS)}"
        ) from None
    try:
        return factory(**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for mechanism {name!r}: {exc}") from None


def mechanism_from_config(cfg: Mapping[str, Any]) -> Mechanism:
    """Build from a config table such as ``{"mechanism": "uniform", "k_num": 1, "k_den": 2}``."""
    params = dict(cfg)
    name = params.pop("mechanism", None)
    if not isinstance(name, str):
        raise ValueError("market config needs a 'mechanism' name")
    return get_mechanism(name, **params)


def clear_orders(
    mechanism: Mechanism,
    orders: Sequence[Order],
    grid: GridPrices,
    live_at: datetime | None = None,
) -> tuple[Clearing, list[Match]]:
    """Clear :class:`Order` objects of one slot; returns the clearing and its matches
    with order and house ids. With ``live_at`` (UTC, e.g. the gate closure), orders
    expired at that time are left out."""
    if live_at is not None:
        orders = [o for o in orders if o.is_live(live_at)]
    indexed = index_orders(orders)
    clearing = mechanism.clear(indexed.arrays, grid)
    return clearing, to_matches(indexed, clearing)


def mechanism_to_config(mechanism: Mechanism) -> dict[str, Any]:
    """Inverse of :func:`mechanism_from_config`."""
    out: dict[str, Any] = {"mechanism": mechanism.name}
    if is_dataclass(mechanism):
        for f in fields(mechanism):
            if f.name != "name":
                out[f.name] = getattr(mechanism, f.name)
    return out
