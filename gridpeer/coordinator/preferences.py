"""Trading preferences of signed orders in the live centralized market (pure).

A signed buy order may ask for energy from a named partner, from its own zone (local)
or from green houses (``OrderTerms.prefs``, a bit mask) and pay ``premium`` wei/kWh for
it. At gate closure the coordinator clears the window with
:func:`gridpeer.market.preferences.clear_with_preferences`, the engine's and the
simulator's rule: a preferred stage first (partner bids, then local, then green; each
bid takes the cheapest eligible asks at the ask's price plus its premium), then the
window's mechanism on what is left, without premiums. A bid whose mask has several
bits is served as its strongest one (partner > local > green).

Each match of the preferred stage carries the code of the preference it honoured
(1 partner, 2 local, 3 green: the ``Preference`` values and the contract's match-word
code); the contract lets such a match's price reach the buyer's limit plus premium,
checks that the buyer signed that preference (and, for partner, that the seller is the
signed partner) and emits ``PreferencesHonoured``.

Units: energy Wh, prices wei per kWh.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gridpeer.chain.types import PREF_GREEN, PREF_LOCAL, PREF_PARTNER, OrderTerms
from gridpeer.market.clearing import GridPrices, Mechanism
from gridpeer.market.mechanisms import clear_orders
from gridpeer.market.orders import Order, Side, index_orders
from gridpeer.market.preferences import Preference, Preferences, clear_with_preferences
from gridpeer.market.trades import Match

Honoured = dict[tuple[str, str], int]
"""Honoured-preference code (1 partner, 2 local, 3 green) by (buy order id, sell order
id); pairs not in it honoured none. A pair is matched at most once by the preferred
stage, which always uses up the bid or the ask."""


@dataclass(frozen=True)
class Community:
    """What the local and green preferences are checked against.

    Attributes:
        zones: zone (feeder) name per house id; a house without one is local to no one.
        green: house ids that sell green energy.
    """

    zones: Mapping[str, str] = field(default_factory=dict)
    green: Collection[str] = frozenset()


def community_of(houses: Sequence[tuple[str, str | None, bool]]) -> Community:
    """The :class:`Community` of ``houses``: (house id, zone or None, sells green)."""
    return Community(
        zones={h: zone for h, zone, _ in houses if zone is not None},
        green=frozenset(h for h, _, green in houses if green),
    )


def strongest(mask: int) -> Preference:
    """The preference a bid with ``prefs`` bit mask ``mask`` is served as."""
    if mask & PREF_PARTNER:
        return Preference.PARTNER
    if mask & PREF_LOCAL:
        return Preference.LOCAL
    if mask & PREF_GREEN:
        return Preference.GREEN
    return Preference.NONE


def clear_preferring(
    mechanism: Mechanism,
    orders: Sequence[Order],
    terms: Mapping[str, OrderTerms],
    partner_house: Mapping[int, str],
    community: Community,
    grid: GridPrices,
) -> tuple[list[Match], Honoured]:
    """Matches of one window's ``orders`` honouring the buy orders' preferences.

    Args:
        mechanism: the window's clearing mechanism (general stage).
        orders: market orders (ids = keys of ``terms``).
        terms: the signed terms of each order, by order id.
        partner_house: house id of each partner member index the orders name.
        community: zones and green houses.
        grid: grid tariffs, wei/kWh.

    Returns:
        The matches (preferred stage first) and the preference each honoured. Without
        any preference: exactly ``clear_orders(mechanism, orders, grid)``.
    """
    if not any(terms[o.id].prefs for o in orders if o.side is Side.BID):
        return clear_orders(mechanism, orders, grid)[1], {}
    indexed = index_orders(orders)
    hidx = {h: i for i, h in enumerate(indexed.houses)}
    names: dict[str, int] = {}
    zone = np.array(
        [
            names.setdefault(community.zones[h], len(names)) if h in community.zones else -1 - i
            for i, h in enumerate(indexed.houses)
        ],
        dtype=np.int64,
    )
    green = np.array([h in community.green for h in indexed.houses], dtype=np.bool_)
    kind, partner, premium = [], [], []
    for o in indexed.orders:
        t = terms[o.id]
        k = strongest(t.prefs) if o.side is Side.BID else Preference.NONE
        kind.append(int(k))
        house = partner_house.get(t.partner) if k is Preference.PARTNER else None
        partner.append(hidx.get(house, -1) if house is not None else -1)
        # capped so that ask + premium stays within int64 (the engine's arrays)
        premium.append(min(t.premium, 2**62) if k is not Preference.NONE else 0)
    prefs = Preferences(
        np.array(kind, dtype=np.int64),
        np.array(partner, dtype=np.int64),
        np.array(premium, dtype=np.int64),
        zone,
        green,
    )
    leveled = clear_with_preferences(mechanism, indexed.arrays, prefs, grid)
    m = leveled.matches
    out: list[Match] = []
    honoured: Honoured = {}
    for b, s, wh, p, level in zip(
        m.buy.tolist(),
        m.sell.tolist(),
        m.energy_wh.tolist(),
        m.price.tolist(),
        leveled.level.tolist(),
        strict=True,
    ):
        ob, os_ = indexed.orders[b], indexed.orders[s]
        out.append(Match(ob.id, os_.id, ob.house, os_.house, wh, p))
        if level == 1:
            honoured[(ob.id, os_.id)] = kind[b]
    return out, honoured
