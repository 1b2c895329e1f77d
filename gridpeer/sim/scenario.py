"""Community scenarios: site, tariffs, household mix, strategies and calendar, from TOML.

A scenario is a TOML file (or a bundled preset name such as ``thesis-lab-5``) validated
by pydantic: unknown keys, wrong units or impossible values give a clear error naming
the field. Units: PV in kWp, battery capacity in Wh, consumption in kWh per year,
prices in currency units per kWh (converted to integer wei per kWh with
``tariff.wei_per_unit``), coordinates in degrees, times in UTC.
"""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MECHANISMS = (
    "order-book",
    "uniform",
    "pay-as-bid",
    "cda",
    "mid-market",
    "bill-sharing",
    "sdr",
)
Mechanism = Literal[
    "order-book", "uniform", "pay-as-bid", "cda", "mid-market", "bill-sharing", "sdr"
]


MAX_WEI_PER_KWH = 10**11
"""Largest tariff in wei/kWh: keeps every per-slot and per-year sum exact in int64."""


class ScenarioError(ValueError):
    """A scenario file or preset is missing or invalid (message says where and why)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(_Strict):
    """Where the community is (degrees, metres) and its UTC offset for local hours."""

    name: str = "site"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    altitude_m: float = Field(default=0.0, ge=-500, le=9000)
    utc_offset_h: float = Field(default=0.0, ge=-14, le=14)


class TouPeriod(_Strict):
    """A time-of-use import price: local hours ``[start_h, end_h)``, currency/kWh."""

    start_h: int = Field(ge=0, le=23)
    end_h: int = Field(ge=1, le=24)
    import_price: float = Field(gt=0)

    @model_validator(mode="after")
    def _order(self) -> TouPeriod:
        if self.end_h <= self.start_h:
            raise ValueError(f"end_h ({self.end_h}) must be after start_h ({self.start_h})")
        return self


class Tariff(_Strict):
    """Grid tariffs in currency units per kWh; ``wei_per_unit`` converts to wei."""

    currency: str = "USD"
    wei_per_unit: int = Field(default=1_000_000, gt=0)
    import_price: float = Field(gt=0)
    feed_in_price: float = Field(ge=0)
    tou: tuple[TouPeriod, ...] = ()

    @model_validator(mode="after")
    def _spread(self) -> Tariff:
        prices = [self.import_price, *(p.import_price for p in self.tou)]
        if min(prices) < self.feed_in_price:
            raise ValueError("feed_in_price must not exceed any import price")
        if max(prices) * self.wei_per_unit > MAX_WEI_PER_KWH:
            raise ValueError(
                f"import price x wei_per_unit exceeds {MAX_WEI_PER_KWH:.0e} wei/kWh "
                "(the simulator's exact int64 accounting); use a smaller wei_per_unit"
            )
        return self


class HouseholdGroup(_Strict):
    """One kind of household and its share of the community.

    ``pv_kwp`` 0 and ``battery_wh`` 0 make a plain consumer. ``data`` optionally names
    a measured data file (path relative to the scenario file) replayed as its load (and
    PV, if the file has it), read as ``data_format`` (see :mod:`gridpeer.sim.userdata`);
    ``data_tz`` is the zone the file's clock was in (naive ISO and POSIX timestamps alike),
    ``data_align`` ``start`` replays the file's first day on the calendar's start,
    ``date`` the file day with the start's day of the year.

    Flexible devices (0 = none; models in :mod:`gridpeer.devices`): an EV of
    ``ev_kwh`` kWh on a ``ev_charger_kw`` kW charger (``ev_v2g``: may discharge;
    ``ev_min_soc``: SoC required at departure); an air/water heat pump of
    ``heat_pump_kw`` kW thermal (A−7/W52) heating a house of ``heat_loss_w_per_k`` W/K
    through a ``tank_l`` litre tank; a ``wind_kw`` kW small wind turbine; a ``hydro_kw``
    kW run-of-river micro-hydro plant with ``hydro_head_m`` m net head.
    """

    name: str
    share: float = Field(gt=0, le=1)
    pv_kwp: float = Field(default=0.0, ge=0, le=1000)
    battery_wh: float = Field(default=0.0, ge=0, le=1_000_000)
    battery_power_w: float = Field(default=2500.0, gt=0)
    annual_kwh: float = Field(default=3500.0, gt=0, le=1_000_000)
    strategy: Literal["fixed", "ramping"] = "ramping"
    data: str | None = None
    data_format: Literal["watts", "refit", "smart-home", "split-json"] = "watts"
    preference: Literal["none", "local", "green"] = "none"
    premium: float = Field(default=0.0, ge=0)
    green: bool = True
    data_tz: str = "UTC"
    data_align: Literal["start", "date"] = "start"
    ev_kwh: float = Field(default=0.0, ge=0, le=300)
    ev_charger_kw: float = Field(default=7.4, gt=0, le=350)
    ev_v2g: bool = False
    ev_min_soc: float = Field(default=0.6, ge=0, le=1)
    heat_pump_kw: float = Field(default=0.0, ge=0, le=100)
    heat_loss_w_per_k: float = Field(default=150.0, gt=0, le=5000)
    tank_l: float = Field(default=300.0, gt=0, le=10_000)
    wind_kw: float = Field(default=0.0, ge=0, le=1000)
    hydro_kw: float = Field(default=0.0, ge=0, le=1000)
    hydro_head_m: float = Field(default=10.0, gt=0, le=1000)

    @model_validator(mode="after")
    def _zone(self) -> HouseholdGroup:
        try:
            ZoneInfo(self.data_tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"data_tz {self.data_tz!r} is not an IANA time zone (e.g. America/Santiago)"
            ) from None
        return self


class Strategy(_Strict):
    """Agent behaviour shared by all houses.

    ``forecast`` is how an agent knows a slot's PV and load when it posts its orders:
    ``noisy`` (default) the real values times a seeded, unbiased log-normal error of
    sigma ``forecast_error`` (0.3: about ±31 % per slot, see
    :func:`gridpeer.hems.strategy.noisy_forecast`); ``persistence`` yesterday's same
    slot; ``clear-sky`` 80 % of clear-sky PV minus yesterday's load; ``perfect`` the
    real values (an upper bound: every design then trades the same volume); ``sarima``
    and ``gbm`` day-ahead forecasts of PV and load from each house's own past days
    (:mod:`gridpeer.profiles.forecast`; before enough history: persistence, and on day 1
    80 % of clear-sky PV minus the house's mean load).

    ``dispatch``: how batteries, EVs and heat pumps run: ``rule`` (self-consumption
    battery, uncontrolled EV charging, tank thermostat) or ``mpc`` (a daily LP per house
    against expected P2P and grid prices, :mod:`gridpeer.sim.mpc`; batteries then also
    buy and sell on the market).
    """

    forecast: Literal["noisy", "perfect", "persistence", "clear-sky", "sarima", "gbm"] = "noisy"
    forecast_error: float = Field(default=0.3, ge=0, le=2)
    dispatch: Literal["rule", "mpc"] = "rule"
    spread: float = Field(default=0.9, ge=0, le=1)
    rounds: int = Field(default=4, ge=1, le=96)


class Calendar(_Strict):
    """Simulated period: ``start`` (UTC date), ``days``, slot length in minutes, and
    when P2P delivery is allowed: ``continuous`` (every slot) or ``thesis-windows``
    (deliveries 13:00-14:00 and 16:30-17:30 local time only, the thesis schedule)."""

    start: date = date(2025, 1, 6)
    days: int = Field(default=1, ge=1, le=3660)
    slot_minutes: Literal[15] = 15
    mode: Literal["continuous", "thesis-windows"] = "continuous"


class Feeder(_Strict):
    """The community's low-voltage network (optional; needs pandapower).

    ``network`` is one of :data:`gridpeer.core.defaults.FEEDER_PRESETS` or the path of
    a pandapower network file (``.json``, ``.p``/``.pkl``, ``.xlsx``; relative to the
    scenario file). Houses are mapped to buses: ``mapping = "round-robin"`` spreads
    house k over the network's load buses in order (house k on load bus ``k mod n``),
    ``"random"`` draws a load bus per house from the seed, and an explicit ``buses``
    list (bus indices of the network) puts house k on ``buses[k mod len(buses)]``. The
    network's own loads are switched off unless ``keep_network_loads`` (then they stay
    as non-member load).
    ``power_factor`` (0..1, lagging for consumption) sets each house's reactive power
    from its net active power. Limits: voltage within ``1 ± voltage_band`` per unit,
    line and transformer loading at most ``max_loading_pct`` %.

    ``grid_aware = true`` clears the market grid-aware
    (:mod:`gridpeer.market.grid_aware`: no trade may add to a violation of these limits;
    checked by an AC power flow after clearing). ``network_fee`` (currency per kWh per
    ohm of path resistance between seller and buyer) charges buyers a network fee by
    electrical distance, paid to the grid operator and shown in the bills.
    """

    network: str = "kerber-dorfnetz"
    mapping: Literal["round-robin", "random"] = "round-robin"
    buses: tuple[int, ...] = ()
    keep_network_loads: bool = False
    power_factor: float = Field(default=1.0, gt=0, le=1)
    voltage_band: float = Field(default=0.10, gt=0, lt=1)
    max_loading_pct: float = Field(default=100.0, gt=0)
    grid_aware: bool = False
    network_fee: float = Field(default=0.0, ge=0)


class MarketStructure(_Strict):
    """Feeder markets below the community market, fees per level, named partners.

    With ``hierarchical``, houses are split into ``zones`` feeders whose markets
    clear first (house k in zone ``k mod zones``; ``zones = "feeder"``: the branches
    leaving the transformer of the scenario's ``[feeder]`` network); unmatched orders
    go up to the community market (:mod:`gridpeer.market.structured`).
    ``feeder_fee`` and ``community_fee`` (currency per kWh) are paid by buyers to the
    grid operator on energy traded at that level. ``partners`` maps a buying house id
    to the house it prefers to buy from (e.g. ``{h3 = "h1"}``), with its group's
    ``premium``; household groups may prefer ``local`` (same zone) or ``green``
    energy (from groups with ``green``).

    ``fee_matrix`` (currency per kWh, one row per seller zone, one column per buyer
    zone: zones × zones, every entry >= 0) charges each trade the fee of its zone pair
    instead of ``feeder_fee`` / ``community_fee`` (so it goes without them), whatever
    the stage that matched it; with ``zones = "feeder"`` its size must equal the number
    of the network's branches (checked when the network is built).
    """

    hierarchical: bool = False
    zones: Annotated[int, Field(ge=1, le=100_000)] | Literal["feeder"] = 1
    feeder_fee: float = Field(default=0.0, ge=0)
    community_fee: float = Field(default=0.0, ge=0)
    partners: dict[str, str] = {}
    fee_matrix: tuple[tuple[float, ...], ...] | None = None

    @model_validator(mode="after")
    def _fee_matrix(self) -> MarketStructure:
        f = self.fee_matrix
        if f is None:
            return self
        if self.feeder_fee or self.community_fee:
            raise ValueError(
                "fee_matrix replaces feeder_fee and community_fee: set one or the other"
            )
        n = len(f)
        if n == 0 or any(len(row) != n for row in f):
            sizes = ", ".join(str(len(row)) for row in f) or "none"
            raise ValueError(
                f"fee_matrix must be square (one row and one column per zone): {n} rows "
                f"of {sizes} entries"
            )
        if isinstance(self.zones, int) and n != self.zones:
            raise ValueError(
                f"fee_matrix is {n} x {n} but there are {self.zones} zones: one row "
                "(seller zone) and one column (buyer zone) per zone"
            )
        bad = [(i, j, v) for i, row in enumerate(f) for j, v in enumerate(row)]
        bad = [(i, j, v) for i, j, v in bad if not v >= 0 or v == float("inf")]
        if bad:
            i, j, v = bad[0]
            raise ValueError(
                f"fee_matrix[{i}][{j}] = {v}: fees are finite and >= 0 (currency per kWh)"
            )
        return self


class Weather(_Strict):
    """Statistics of the seeded weather model (:mod:`gridpeer.devices.weather`): mean
    temperature °C, seasonal and diurnal amplitudes K, day-to-day anomaly sd K; wind
    Weibull shape and scale (m/s at 10 m); river mean flow m³/s
    (:mod:`gridpeer.devices.hydro`). Used only by heat pumps, wind and hydro."""

    mean_c: float = Field(default=11.0, ge=-30, le=40)
    seasonal_amp_c: float = Field(default=8.0, ge=0, le=30)
    diurnal_amp_c: float = Field(default=4.0, ge=0, le=20)
    anomaly_sd_c: float = Field(default=2.5, ge=0, le=15)
    wind_weibull_k: float = Field(default=2.0, gt=0.5, le=5)
    wind_weibull_c_ms: float = Field(default=6.0, gt=0, le=20)
    river_mean_m3s: float = Field(default=0.05, gt=0, le=1000)


class Scenario(_Strict):
    """A whole community study setup."""

    name: str
    description: str = ""
    houses: int = Field(default=5, ge=1, le=1_000_000)
    seed: int = 0
    market: Mechanism = "uniform"
    site: Site
    tariff: Tariff
    calendar: Calendar = Calendar()
    strategy: Strategy = Strategy()
    weather: Weather = Weather()
    households: tuple[HouseholdGroup, ...] = Field(min_length=1)
    feeder: Feeder | None = None
    market_structure: MarketStructure | None = None
    base_dir: str = "."

    @model_validator(mode="after")
    def _shares(self) -> Scenario:
        if self.calendar.mode == "thesis-windows" and self.site.utc_offset_h % 1:
            raise ValueError("calendar.mode thesis-windows needs a whole-hour site.utc_offset_h")
        total = sum(g.share for g in self.households)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"household shares must sum to 1, got {total:g}")
        names = [g.name for g in self.households]
        if len(set(names)) != len(names):
            raise ValueError(f"household group names must be unique, got {names}")
        return self


def preset_names() -> list[str]:
    """Names of the bundled presets (``thesis-lab-5``, ``rural-7``, ...)."""
    folder = resources.files("gridpeer.sim") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _format_error(source: str, exc: ValidationError) -> str:
    lines = [f"invalid scenario {source}:"]
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)


def parse_scenario(text: str, source: str = "<string>", base_dir: str = ".") -> Scenario:
    """Parse and validate scenario TOML text.

    Raises:
        ScenarioError: bad TOML syntax or invalid content (message names the field).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {source} is not valid TOML: {exc}") from exc
    data.setdefault("base_dir", base_dir)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_error(source, exc)) from exc


def load_scenario(name_or_path: str) -> Scenario:
    """Load a preset by name or a scenario TOML file by path.

    Raises:
        ScenarioError: unknown preset, missing file, or invalid content.
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError(f"scenario file not found: {path}")
        return parse_scenario(path.read_text(encoding="utf-8"), str(path), str(path.parent))
    if name_or_path not in preset_names():
        raise ScenarioError(
            f"unknown scenario {name_or_path!r}: not a file, and not a preset "
            f"({', '.join(preset_names())})"
        )
    text = (resources.files("gridpeer.sim") / "scenarios" / f"{name_or_path}.toml").read_text(
        encoding="utf-8"
    )
    return parse_scenario(text, f"preset {name_or_path}")
