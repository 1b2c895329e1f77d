"""Grid tariffs (time-of-use capable) and per-kWh fees with an explicit payer.

A :class:`GridTariff` is a list of periods by local time of day in a time zone; each
period has an import price and a feed-in price (wei per kWh). A :class:`Fee` is a
per-kWh charge on P2P trades (e.g. network use, operator) paid by the buyer, the seller,
or split (the seller pays ``fee // 2``, the buyer the rest, so the halves add up).
Both round-trip to TOML-style dicts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from gridpeer.market.clearing import GridPrices
from gridpeer.market.money import payment_wei


class Payer(enum.StrEnum):
    """Who pays a fee."""

    BUYER = "buyer"
    SELLER = "seller"
    SPLIT = "split"


@dataclass(frozen=True)
class Fee:
    """A per-kWh fee on P2P energy.

    Attributes:
        name: label (e.g. ``"network"``).
        wei_per_kwh: fee, wei per kWh (>= 0).
        payer: :class:`Payer`.
    """

    name: str
    wei_per_kwh: int
    payer: Payer = Payer.BUYER

    def __post_init__(self) -> None:
        if self.wei_per_kwh < 0:
            raise ValueError(f"fee {self.name}: wei_per_kwh must be >= 0")
        object.__setattr__(self, "payer", Payer(self.payer))

    def split_wei(self, energy_wh: int) -> tuple[int, int]:
        """(buyer part, seller part) in wei of the fee on ``energy_wh`` Wh."""
        total = payment_wei(energy_wh, self.wei_per_kwh)
        if self.payer is Payer.BUYER:
            return total, 0
        if self.payer is Payer.SELLER:
            return 0, total
        return total - total // 2, total // 2


@dataclass(frozen=True)
class TariffPeriod:
    """From local time ``start`` until the next period's start.

    Attributes:
        start: local time of day the period begins.
        import_wei_per_kwh: import price, wei/kWh.
        feed_in_wei_per_kwh: feed-in price, wei/kWh (<= import).
    """

    start: time
    import_wei_per_kwh: int
    feed_in_wei_per_kwh: int

    def prices(self) -> GridPrices:
        """The period's prices."""
        return GridPrices(self.import_wei_per_kwh, self.feed_in_wei_per_kwh)


@dataclass(frozen=True)
class GridTariff:
    """Utility tariff: periods by local time of day (the first must start at 00:00).

    Attributes:
        periods: periods sorted by start time.
        timezone: IANA zone the period times are in (e.g. ``"America/Santiago"``).
        fees: per-kWh fees on P2P energy.
    """

    periods: tuple[TariffPeriod, ...]
    timezone: str = "UTC"
    fees: tuple[Fee, ...] = ()

    def __post_init__(self) -> None:
        if not self.periods or self.periods[0].start != time(0, 0):
            raise ValueError("tariff needs periods, the first starting at 00:00")
        starts = [p.start for p in self.periods]
        if starts != sorted(set(starts)):
            raise ValueError("tariff periods must have strictly increasing start times")
        for p in self.periods:
            p.prices()  # validates 0 <= feed-in <= import
        ZoneInfo(self.timezone)

    @staticmethod
    def flat(import_wei_per_kwh: int, feed_in_wei_per_kwh: int) -> GridTariff:
        """One price pair all day."""
        return GridTariff((TariffPeriod(time(0, 0), import_wei_per_kwh, feed_in_wei_per_kwh),))

    def prices_at(self, t: datetime) -> GridPrices:
        """Grid prices in force at UTC time ``t`` (tz-aware)."""
        if t.tzinfo is None:
            raise ValueError("time must be timezone-aware")
        local = t.astimezone(ZoneInfo(self.timezone)).time().replace(tzinfo=None)
        current = self.periods[0]
        for p in self.periods:
            if p.start <= local:
                current = p
        return current.prices()

    def to_dict(self) -> dict[str, Any]:
        """TOML-ready dict (inverse of :meth:`from_dict`)."""
        return {
            "timezone": self.timezone,
            "periods": [
                {
                    "start": p.start.strftime("%H:%M"),
                    "import_wei_per_kwh": p.import_wei_per_kwh,
                    "feed_in_wei_per_kwh": p.feed_in_wei_per_kwh,
                }
                for p in self.periods
            ],
            "fees": [
                {"name": f.name, "wei_per_kwh": f.wei_per_kwh, "payer": str(f.payer)}
                for f in self.fees
            ],
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> GridTariff:
        """Build from a config dict; raises ValueError with the offending field."""
        try:
            periods = tuple(
                TariffPeriod(
                    time.fromisoformat(p["start"]),
                    int(p["import_wei_per_kwh"]),
                    int(p["feed_in_wei_per_kwh"]),
                )
                for p in d["periods"]
            )
            fees = tuple(
                Fee(f["name"], int(f["wei_per_kwh"]), Payer(f.get("payer", "buyer")))
                for f in d.get("fees", ())
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"bad tariff config: missing or invalid {exc}") from None
        return GridTariff(periods, str(d.get("timezone", "UTC")), fees)
