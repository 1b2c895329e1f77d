"""Trading preferences: a bid may ask for energy from a named partner, from its own
feeder (local) or from green sellers, and pays a premium for it.

Preferences (:class:`Preferences`, one entry per order of the book; asks carry none)
are honoured before the general market, by this **priority rule**:

1. *partner* bids first, then *local* bids, then *green* bids (the stronger the
   preference, the earlier it is served);
2. within a class, bids in time priority (priority, then position in the book);
3. each bid takes from the eligible asks — its partner's asks; asks of houses in its
   zone; asks of green houses — the cheapest first, then the earliest, never its own
   house's, as long as the ask's price is at most the bid's limit (pick-and-take);
4. the preferred match is priced at the ask's price plus the bid's premium
   (wei/kWh): the seller receives the premium, so paid == received per match.

Whatever the preferred stage did not fill (Wh of every order) then goes to the
general market, cleared by the given mechanism without premiums. With no preferences
the result is exactly the mechanism's clearing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridpeer.market.clearing import GridPrices, MatchArrays, Mechanism
from gridpeer.market.hierarchy import LeveledMatches, clear_mapped, concat
from gridpeer.market.orders import OrderArrays

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Preference(enum.IntEnum):
    """What a bid prefers, in the order they are served (lower value = earlier)."""

    PARTNER = 1
    LOCAL = 2
    GREEN = 3
    NONE = 9


@dataclass(frozen=True)
class Preferences:
    """Per order of a book: preference kind, partner house (or −1), premium wei/kWh.

    Attributes:
        kind: :class:`Preference` value per order (asks: ``NONE``).
        partner: house index of the named partner per order, −1 when none.
        premium: wei/kWh the bid adds to the ask's price for preferred energy, >= 0.
        zone: feeder (zone) per house index, for ``LOCAL``.
        green: per house index, True when the house sells green energy.
    """

    kind: IntArray
    partner: IntArray
    premium: IntArray
    zone: IntArray
    green: BoolArray

    @staticmethod
    def none(n_orders: int, houses: int) -> Preferences:
        """No preferences."""
        return Preferences(
            np.full(n_orders, Preference.NONE, dtype=np.int64),
            np.full(n_orders, -1, dtype=np.int64),
            np.zeros(n_orders, dtype=np.int64),
            np.zeros(houses, dtype=np.int64),
            np.zeros(houses, dtype=np.bool_),
        )


def _eligible(book: OrderArrays, prefs: Preferences, i: int, asks: IntArray) -> IntArray:
    h = int(book.house[i])
    seller = book.house[asks]
    kind = int(prefs.kind[i])
    if kind == Preference.PARTNER:
        ok = seller == prefs.partner[i]
    elif kind == Preference.LOCAL:
        ok = prefs.zone[seller] == prefs.zone[h]
    else:
        ok = prefs.green[seller]
    ok &= (seller != h) & (book.price[asks] <= book.price[i])
    return np.asarray(asks[ok], dtype=np.int64)


def clear_preferred(book: OrderArrays, prefs: Preferences, level: int = 1) -> LeveledMatches:
    """The preferred stage alone (rule 1-4 of the module doc), matches at ``level``."""
    prio = book.priorities()
    pos = np.arange(len(book))
    left = book.energy_wh.copy()
    asks = np.flatnonzero(~book.is_bid)
    asks = asks[np.lexsort((pos[asks], prio[asks], book.price[asks]))]  # cheapest, earliest
    bids = np.flatnonzero(book.is_bid & (prefs.kind != Preference.NONE))
    bids = bids[np.lexsort((pos[bids], prio[bids], prefs.kind[bids]))]
    buy: list[int] = []
    sell: list[int] = []
    wh: list[int] = []
    price: list[int] = []
    for i in bids.tolist():
        for j in _eligible(book, prefs, i, asks).tolist():
            if left[i] == 0:
                break
            q = int(min(left[i], left[j]))
            if q == 0:
                continue
            left[i] -= q
            left[j] -= q
            buy.append(i)
            sell.append(j)
            wh.append(q)
            price.append(int(book.price[j]) + int(prefs.premium[i]))
    n = len(buy)
    return LeveledMatches(
        MatchArrays(_arr(buy), _arr(sell), _arr(wh), _arr(price)),
        np.full(n, level, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
    )


def clear_with_preferences(
    mechanism: Mechanism, book: OrderArrays, prefs: Preferences, grid: GridPrices
) -> LeveledMatches:
    """Preferred stage (level 1), then the general market on what is left (level 2)."""
    if len(prefs.kind) != len(book):
        raise ValueError("one preference entry per order is needed")
    if (prefs.premium < 0).any():
        raise ValueError("premiums must be >= 0 wei/kWh")
    pref = clear_preferred(book, prefs)
    left = book.energy_wh - pref.traded_wh(len(book))
    everyone = np.arange(len(book), dtype=np.int64)
    rest = clear_mapped(mechanism, book, everyone, left, grid, 2, 0)
    return concat([pref, rest])


def _arr(xs: list[int]) -> IntArray:
    return np.asarray(xs, dtype=np.int64)
