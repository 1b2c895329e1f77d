"""A community's market configuration: mechanism, trading calendar, grid tariff, and
deviation rule, read from / written to a TOML-style ``[market]`` table.

Example (``community.toml``)::

    [market]
    mechanism = { mechanism = "uniform", k_num = 1, k_den = 2 }
    deviation_rule = "grid"
    calendar = { kind = "thesis", timezone = "America/Santiago" }
    [market.tariff]
    timezone = "America/Santiago"
    periods = [{ start = "00:00", import_wei_per_kwh = 60000000000000,
                 feed_in_wei_per_kwh = 20000000000000 }]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gridpeer.core.defaults import DEFAULT_FEED_IN_WEI_PER_KWH, DEFAULT_IMPORT_WEI_PER_KWH
from gridpeer.market.calendar import (
    ContinuousCalendar,
    WindowCalendar,
    calendar_from_dict,
    thesis_default,
)
from gridpeer.market.clearing import Mechanism
from gridpeer.market.mechanisms import mechanism_from_config, mechanism_to_config
from gridpeer.market.settlement import DeviationRule, FixedDeviationPrices
from gridpeer.market.tariff import GridTariff


def _rule(v: object) -> DeviationRule | FixedDeviationPrices:
    if isinstance(v, Mapping):
        try:
            return FixedDeviationPrices(
                int(v["shortfall_wei_per_kwh"]), int(v["excess_wei_per_kwh"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"deviation_rule: bad explicit prices ({exc})") from None
    try:
        return DeviationRule(str(v))
    except ValueError:
        raise ValueError(f"deviation_rule: expected 'grid', 'none' or prices, got {v!r}") from None


def _default_mechanism() -> Mechanism:
    return mechanism_from_config({"mechanism": "uniform"})


@dataclass(frozen=True)
class MarketConfig:
    """Everything the market needs to run a community.

    Attributes:
        mechanism: the clearing mechanism (default: uniform price, midpoint rule).
        calendar: trading calendar (default: the thesis schedule in UTC).
        tariff: grid tariff and P2P fees (default: the flat prices of
            :mod:`gridpeer.core.settings`, the same as the live system's).
        deviation_rule: how delivery shortfalls/excesses are priced: ``grid`` (default),
            ``none``, or explicit prices (TOML: ``deviation_rule = {
            shortfall_wei_per_kwh = ..., excess_wei_per_kwh = ... }``).
    """

    mechanism: Mechanism = field(default_factory=_default_mechanism)
    calendar: WindowCalendar | ContinuousCalendar = field(default_factory=thesis_default)
    tariff: GridTariff = field(
        default_factory=lambda: GridTariff.flat(
            DEFAULT_IMPORT_WEI_PER_KWH, DEFAULT_FEED_IN_WEI_PER_KWH
        )
    )
    deviation_rule: DeviationRule | FixedDeviationPrices = DeviationRule.GRID

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> MarketConfig:
        """Build from a ``[market]`` table; missing keys take the defaults.

        Raises:
            ValueError: unknown keys or invalid values (the message names them).
        """
        known = {"mechanism", "calendar", "tariff", "deviation_rule"}
        extra = set(d) - known
        if extra:
            raise ValueError(f"unknown [market] keys: {sorted(extra)}")
        base = MarketConfig()
        mech = d.get("mechanism")
        if isinstance(mech, str):
            mech = {"mechanism": mech}
        rule = _rule(d.get("deviation_rule", "grid"))
        return MarketConfig(
            mechanism=mechanism_from_config(mech) if mech is not None else base.mechanism,
            calendar=calendar_from_dict(d["calendar"]) if "calendar" in d else base.calendar,
            tariff=GridTariff.from_dict(d["tariff"]) if "tariff" in d else base.tariff,
            deviation_rule=rule,
        )

    def to_dict(self) -> dict[str, Any]:
        """TOML-ready dict; :meth:`from_dict` inverts it."""
        return {
            "mechanism": mechanism_to_config(self.mechanism),
            "calendar": self.calendar.to_dict(),
            "tariff": self.tariff.to_dict(),
            "deviation_rule": (
                {
                    "shortfall_wei_per_kwh": self.deviation_rule.shortfall_wei_per_kwh,
                    "excess_wei_per_kwh": self.deviation_rule.excess_wei_per_kwh,
                }
                if isinstance(self.deviation_rule, FixedDeviationPrices)
                else str(self.deviation_rule)
            ),
        }
