"""The Wi-Fi link budget and network-shape settings (pure, no ns-3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridpeer.netsim.radio import (
    DEFAULT_EXPONENT,
    PREAMBLE_SNR_DB,
    RURAL_ROAD_EXPONENT,
    RateControl,
    Topology,
    distance_for_snr_m,
    noise_dbm,
    range_m,
    rate_manager,
    snr_db,
)
from gridpeer.netsim.scenario import Market, RunConfig, ScenarioKind
from gridpeer.netsim.technology import Tech

WIFI = (Tech.WIFI_B, Tech.WIFI_G, Tech.WIFI_N_24, Tech.WIFI_N_5, Tech.WIFI_AC)


def test_noise_floor_per_channel_width() -> None:
    assert noise_dbm(Tech.WIFI_G) == pytest.approx(-93.99, abs=0.01)  # 20 MHz + 7 dB
    assert noise_dbm(Tech.WIFI_AC) == pytest.approx(-87.97, abs=0.01)  # 80 MHz
    with pytest.raises(ValueError):
        noise_dbm(Tech.ETH_1G)


def test_ranges_documented_in_docs() -> None:
    # exponent 3 (the circle): 2.4 GHz ~155 m, 5 GHz 40/80 MHz 75/59 m
    assert [round(range_m(t)) for t in WIFI] == [153, 157, 157, 75, 59]
    # free space (the road): hundreds of metres to ~2 km
    assert [round(range_m(t, RURAL_ROAD_EXPONENT)) for t in WIFI] == [1884, 1976, 1976, 649, 457]


@given(st.sampled_from(WIFI), st.floats(1.0, 5000.0), st.floats(1.5, 5.0))
def test_snr_falls_with_distance_and_inverts(tech: Tech, d: float, n: float) -> None:
    assert snr_db(tech, d * 1.1, n) < snr_db(tech, d, n)
    assert distance_for_snr_m(tech, snr_db(tech, d, n), n) == pytest.approx(d, rel=1e-9)
    assert snr_db(tech, range_m(tech, n), n) == pytest.approx(PREAMBLE_SNR_DB)


def test_rate_managers() -> None:
    assert rate_manager(RateControl.IDEAL, Tech.WIFI_AC) == "ns3::IdealWifiManager"
    assert rate_manager(RateControl.MINSTREL, Tech.WIFI_B) == "ns3::MinstrelWifiManager"
    assert rate_manager(RateControl.MINSTREL, Tech.WIFI_N_5) == "ns3::MinstrelHtWifiManager"


def test_road_config_defaults_and_labels() -> None:
    base = RunConfig(ScenarioKind.NAN_TRADING, Tech.WIFI_G, 3, Market.DECENTRALIZED)
    road = RunConfig(
        ScenarioKind.NAN_TRADING,
        Tech.WIFI_G,
        3,
        Market.DECENTRALIZED,
        spacing_m=60.0,
        topology=Topology.AP,
    )
    assert base.path_loss_exponent == DEFAULT_EXPONENT
    assert road.path_loss_exponent == RURAL_ROAD_EXPONENT
    assert road.warmup_ns > base.warmup_ns
    assert road.label.endswith("/road60m/ap")
    other = RunConfig(ScenarioKind.NAN_TRADING, Tech.WIFI_G, 3, Market.DECENTRALIZED, exponent=3.0)
    assert other.label != base.label and other.path_loss_exponent == 3.0
    with pytest.raises(ValueError):
        RunConfig(ScenarioKind.HAN, Tech.WIFI_G, exponent=9.0)
    with pytest.raises(ValueError):
        RunConfig(ScenarioKind.HAN, Tech.WIFI_G, spacing_m=0.5)
