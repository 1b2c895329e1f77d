"""Orders: the object form (:class:`Order`) and the vectorised form (:class:`OrderArrays`).

An order is a bid (buy) or an ask (sell) of ``energy_wh`` Wh for one delivery slot, with a
limit price in wei per kWh: a bid pays at most its price, an ask accepts at least its
price. ``priority`` is the time priority (smaller = earlier; the coordinator stamps it
with a sequence number or a timestamp in µs); ties on priority are broken by position
in the book (earlier in the array = earlier).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MAX_ENERGY_WH = 10**12
"""Largest energy of one order, Wh (1 TWh: guards int64 sums of a million orders)."""
MAX_PRICE_WEI_PER_KWH = 10**24
"""Largest limit price, wei/kWh (10^6 ether per kWh; Python ints are exact beyond int64)."""


class Side(enum.StrEnum):
    """Order side: ``bid`` buys energy, ``ask`` sells energy."""

    BID = "bid"
    ASK = "ask"


@dataclass(frozen=True)
class Order:
    """One order for one delivery slot.

    Attributes:
        id: unique order id (string, e.g. ``"o-17"``).
        house: house id (e.g. ``"h1"``).
        side: :class:`Side` (bid = buy, ask = sell).
        energy_wh: energy, Wh, integer > 0.
        price_wei_per_kwh: limit price, wei per kWh, integer >= 0.
        slot: UTC start of the delivery slot (tz-aware).
        priority: time priority, integer; smaller = earlier.
        expires_at: optional UTC time after which the order is void (tz-aware).
    """

    id: str
    house: str
    side: Side
    energy_wh: int
    price_wei_per_kwh: int
    slot: datetime
    priority: int = 0
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        validate_order_values(self.energy_wh, self.price_wei_per_kwh)
        if not self.id:
            raise ValueError("order id must not be empty")
        if not self.house:
            raise ValueError(f"order {self.id}: house must not be empty")
        if not isinstance(self.side, Side):
            object.__setattr__(self, "side", Side(self.side))
        if self.slot.tzinfo is None:
            raise ValueError(f"order {self.id}: slot must be timezone-aware (UTC)")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError(f"order {self.id}: expires_at must be timezone-aware (UTC)")

    def is_live(self, now: datetime) -> bool:
        """True unless the order has an expiry and ``now`` (UTC) is at or past it."""
        return self.expires_at is None or now < self.expires_at


def validate_order_values(energy_wh: int, price_wei_per_kwh: int) -> None:
    """Raise ``ValueError`` unless 0 < energy_wh <= MAX_ENERGY_WH (Wh) and
    0 <= price <= MAX_PRICE_WEI_PER_KWH (wei/kWh), both integers."""
    if isinstance(energy_wh, bool) or not isinstance(energy_wh, int):
        raise ValueError(f"energy_wh must be an integer number of Wh, got {energy_wh!r}")
    if isinstance(price_wei_per_kwh, bool) or not isinstance(price_wei_per_kwh, int):
        raise ValueError(f"price must be an integer wei/kWh, got {price_wei_per_kwh!r}")
    if not 0 < energy_wh <= MAX_ENERGY_WH:
        raise ValueError(f"energy_wh must be in 1..{MAX_ENERGY_WH} Wh, got {energy_wh}")
    if not 0 <= price_wei_per_kwh <= MAX_PRICE_WEI_PER_KWH:
        raise ValueError(
            f"price must be in 0..{MAX_PRICE_WEI_PER_KWH} wei/kWh, got {price_wei_per_kwh}"
        )


@dataclass(frozen=True)
class OrderArrays:
    """A book of orders as equal-length numpy arrays (the fast API for the simulator).

    Attributes:
        house: house index per order, int64 >= 0.
        is_bid: True for a bid (buy), False for an ask (sell).
        energy_wh: energy per order, Wh, int64 > 0.
        price: limit price per order, wei per kWh, int64 >= 0 (use the object API for
            prices above 2^63-1).
        priority: time priority per order, int64, smaller = earlier; ``None`` means
            the array position is the time priority.
    """

    house: IntArray
    is_bid: BoolArray
    energy_wh: IntArray
    price: IntArray
    priority: IntArray | None = None

    def __post_init__(self) -> None:
        n = self.house.shape[0]
        arrays: list[tuple[str, npt.NDArray[np.generic]]] = [
            ("house", self.house),
            ("is_bid", self.is_bid),
            ("energy_wh", self.energy_wh),
            ("price", self.price),
        ]
        if self.priority is not None:
            arrays.append(("priority", self.priority))
        for name, arr in arrays:
            if arr.ndim != 1 or arr.shape[0] != n:
                raise ValueError(f"{name} must be 1-D of length {n}, got shape {arr.shape}")
        for name, arr in arrays:
            want = np.bool_ if name == "is_bid" else np.int64
            if arr.dtype != want:
                raise ValueError(f"{name} must have dtype {np.dtype(want)}, got {arr.dtype}")
        if n:
            if int(self.energy_wh.min()) <= 0 or int(self.energy_wh.max()) > MAX_ENERGY_WH:
                raise ValueError(f"energy_wh must be in 1..{MAX_ENERGY_WH} Wh")
            if int(self.price.min()) < 0:
                raise ValueError("price must be >= 0 wei/kWh")
            if int(self.house.min()) < 0:
                raise ValueError("house index must be >= 0")

    def __len__(self) -> int:
        return int(self.house.shape[0])

    def priorities(self) -> IntArray:
        """Time priority per order (array position when ``priority`` is None)."""
        if self.priority is None:
            return np.arange(len(self), dtype=np.int64)
        return self.priority

    @staticmethod
    def empty() -> OrderArrays:
        """A book with no orders."""
        z = np.zeros(0, dtype=np.int64)
        return OrderArrays(z, np.zeros(0, dtype=np.bool_), z, z)


@dataclass(frozen=True)
class IndexedOrders:
    """Object orders converted to arrays, with the maps back to ids.

    Attributes:
        arrays: the :class:`OrderArrays` (row i = ``orders[i]``).
        orders: the orders, in array order.
        houses: house id per house index.
    """

    arrays: OrderArrays
    orders: tuple[Order, ...]
    houses: tuple[str, ...]


def index_orders(orders: Sequence[Order]) -> IndexedOrders:
    """Convert :class:`Order` objects to :class:`OrderArrays` (houses indexed by first
    appearance). Raises ``ValueError`` on duplicate order ids, orders for different slots,
    or prices beyond int64."""
    ids = [o.id for o in orders]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate order ids: {dup}")
    slots = {o.slot for o in orders}
    if len(slots) > 1:
        raise ValueError(f"orders for more than one slot cleared together: {sorted(slots)}")
    if any(o.price_wei_per_kwh > 2**63 - 1 for o in orders):
        raise ValueError("price above 2^63-1 wei/kWh is not supported by the clearing engine")
    house_index: dict[str, int] = {}
    for o in orders:
        house_index.setdefault(o.house, len(house_index))
    arrays = OrderArrays(
        house=np.array([house_index[o.house] for o in orders], dtype=np.int64),
        is_bid=np.array([o.side is Side.BID for o in orders], dtype=np.bool_),
        energy_wh=np.array([o.energy_wh for o in orders], dtype=np.int64),
        price=np.array([o.price_wei_per_kwh for o in orders], dtype=np.int64),
        priority=np.array([o.priority for o in orders], dtype=np.int64),
    )
    return IndexedOrders(arrays, tuple(orders), tuple(house_index))
