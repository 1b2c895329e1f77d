"""Where the live coordinator's zones and green houses come from: ``serve``'s
``[[accounts]]`` (``zone``, ``green``) and, for the demo, zones round-robin."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from gridpeer.coordinator.process import account_community
from gridpeer.core.settings import HouseAccount, load_settings
from gridpeer.runtime.coordinator import DEMO_ZONES, preference_community


def test_accounts_give_zones_and_green_houses_with_pv_green_by_default() -> None:
    settings = load_settings(
        None,
        accounts=[
            {"id": "h1", "kind": "pv_bess", "pv_kwp": 5.0, "zone": "north"},
            {"id": "h2", "kind": "consumer", "zone": "north"},
            {"id": "h3", "kind": "pv", "pv_kwp": 3.0, "green": False},
            {"id": "h4", "kind": "consumer", "green": True, "zone": "south"},
        ],
    )
    community = account_community(settings)
    assert dict(community.zones) == {"h1": "north", "h2": "north", "h4": "south"}
    assert set(community.green) == {"h1", "h4"}
    parts: Any = SimpleNamespace(settings=settings, houses=[])
    assert preference_community(parts) == community


def test_demo_houses_lie_in_zones_round_robin_and_pv_houses_are_green() -> None:
    houses = [SimpleNamespace(id=f"h{i}", pv_kwp=4.0 if i % 2 else 0.0) for i in range(1, 8)]
    parts: Any = SimpleNamespace(settings=load_settings(None), houses=houses)
    community = preference_community(parts)
    assert len(set(community.zones.values())) == DEMO_ZONES
    assert community.zones["h1"] == community.zones[f"h{1 + DEMO_ZONES}"]
    assert set(community.green) == {"h1", "h3", "h5", "h7"}


def test_a_zone_name_is_checked() -> None:
    with pytest.raises(ValidationError, match="zone"):
        HouseAccount(id="h1", zone="north side!")
