"""JSON shapes of the web API (documented in OpenAPI). Units in every field name's doc."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class HouseKind(StrEnum):
    """What a house has: PV and battery, PV only, or neither (consumer)."""

    PV_BESS = "pv_bess"
    PV = "pv"
    CONSUMER = "consumer"


class HouseInfo(BaseModel):
    """A house of the community."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="house id, e.g. h1")
    name: str = Field(description="display name")
    kind: HouseKind
    pv_kwp: float = Field(0.0, description="PV peak power, kWp")
    bess_kwh: float = Field(0.0, description="battery capacity, kWh")
    ev_kwh: float = Field(0.0, description="electric car battery charged at home, kWh (0: none)")
    account: str | None = Field(None, description="demo dev account address (0x…), if any")


class HouseNow(BaseModel):
    """A house's latest readings and today's energy. Missing readings are null."""

    id: str
    name: str
    kind: HouseKind
    ts: datetime | None = Field(None, description="time of the newest reading (UTC)")
    load_w: float | None = Field(None, description="household consumption, W")
    meter_v: float | None = Field(None, description="mains voltage at the meter, V")
    meter_i: float | None = Field(None, description="meter current, A")
    grid_w: float | None = Field(None, description="net grid power, W (+ import, - export)")
    pv_w: float | None = Field(None, description="PV production, W")
    pv_v: float | None = Field(None, description="PV string voltage, V")
    pv_i: float | None = Field(None, description="PV string current, A")
    bess_w: float | None = Field(None, description="battery power, W (+ discharge, - charge)")
    bess_v: float | None = Field(None, description="battery voltage, V")
    soc: float | None = Field(None, description="battery state of charge, 0..1")
    ev_w: float | None = Field(
        None, description="EV charging power, W (+ charging, - V2G), part of load_w"
    )
    ev_soc: float | None = Field(None, description="EV state of charge, 0..1")
    today_load_wh: float = Field(0.0, description="consumption since local midnight, Wh")
    today_pv_wh: float = Field(0.0, description="PV production since local midnight, Wh")
    today_import_wh: float = Field(0.0, description="energy bought from the grid today, Wh")
    today_export_wh: float = Field(0.0, description="energy fed into the grid today, Wh")


class CommunityTotals(BaseModel):
    """Sums over all houses, now and today."""

    load_w: float = Field(description="total consumption now, W")
    pv_w: float = Field(description="total PV production now, W")
    bess_w: float = Field(description="total battery power now, W (+ discharge)")
    grid_w: float = Field(description="total net grid power now, W (+ import)")
    today_load_wh: float
    today_pv_wh: float
    today_import_wh: float
    today_export_wh: float
    self_sufficiency: float = Field(
        description="share of today's consumption not bought from the grid, 0..1"
    )


class Overview(BaseModel):
    """The community now: model time, totals, and every house."""

    community: str
    now: datetime = Field(description="model time, in the community's time zone")
    tz: str = Field("UTC", description="the community's time zone: days start at its midnight")
    speed: float = Field(description="model seconds per wall second")
    totals: CommunityTotals
    houses: list[HouseNow]


class HistoryPoint(BaseModel):
    """One chart point: means over ``[start, start + resolution)``."""

    start: datetime
    n: int = Field(description="readings averaged")
    v: float | None = Field(None, description="mean voltage, V")
    i: float | None = Field(None, description="mean current, A")
    p: float | None = Field(None, description="mean power, W")
    soc: float | None = Field(None, description="mean state of charge, 0..1")
    energy_wh: float = Field(description="energy over the bucket, Wh")
    p_grid: float | None = Field(None, description="mean net grid power, W (meter only)")


class History(BaseModel):
    """A device's history for one day (the community's time zone; times carry its offset)."""

    house: str
    device: str
    resolution: str
    points: list[HistoryPoint]


class FlowPoint(BaseModel):
    """Community power flows over one bucket, W (means)."""

    start: datetime
    load_w: float
    pv_w: float
    bess_w: float
    import_w: float
    export_w: float


class Flows(BaseModel):
    """The community's energy flow chart for one day (the community's time zone)."""

    date: str
    resolution: str
    points: list[FlowPoint]


class Problem(BaseModel):
    """An error: what was wrong, in words."""

    detail: str


class HouseRank(BaseModel):
    """A house in a ranking of today's energy (Wh)."""

    id: str
    name: str
    kind: HouseKind
    wh: float = Field(description="the ranked energy today, Wh")


class DistributionBin(BaseModel):
    """How many houses' net grid power now falls in ``[lo_w, hi_w)`` (W, + import)."""

    label: str
    lo_w: float | None = Field(None, description="lower bound, W (None: unbounded)")
    hi_w: float | None = Field(None, description="upper bound, W (None: unbounded)")
    houses: int


class CommunitySummary(BaseModel):
    """The community in numbers, the same size for 5 or 10,000 houses: totals, how many
    houses report, the distribution of net grid power now, and today's top and bottom
    houses (rankings empty in a private community)."""

    community: str
    now: datetime = Field(description="model time, in the community's time zone")
    tz: str = "UTC"
    speed: float
    houses: int = Field(description="houses in the community")
    reporting: int = Field(description="houses with any reading today")
    kinds: dict[str, int] = Field(description="houses per kind")
    totals: CommunityTotals
    grid_distribution: list[DistributionBin]
    top_exporters: list[HouseRank] = Field(description="most energy fed in today")
    top_importers: list[HouseRank] = Field(description="most energy bought from the grid today")
    top_pv: list[HouseRank] = Field(description="most PV produced today")
    lowest_load: list[HouseRank] = Field(description="least consumption today (reporting houses)")


class HousePage(BaseModel):
    """One page of the houses list, with their live readings."""

    total: int = Field(description="houses matching the search")
    offset: int
    limit: int
    houses: list[HouseNow]
