"""The Wi-Fi network's shape and radio link budget (pure, no ns-3).

* :class:`Topology` — ``adhoc``: every node talks to every other directly (one hop,
  the circle study's default; out-of-range pairs lose packets, there is no relay);
  ``ap``: an access point at the community node (the hub of the layout) and every
  house a station associated with it, so house-to-house frames cross the AP (two
  hops, each at the rate of its own link) — how a rural Wi-Fi neighbourhood is built.
* :class:`RateControl` — ``ideal``: ns-3's ``IdealWifiManager`` (the fastest rate the
  last observed SNR allows; deterministic); ``minstrel``: ns-3's Minstrel
  (``MinstrelWifiManager``, ``MinstrelHtWifiManager`` for 802.11n/ac), which samples
  rates and learns from losses as Linux's mac80211 does.
* The link budget :func:`snr_db`: log-distance path loss ``L(d) = L0 + 10·n·log10(d/1 m)``
  with ``L0`` the free-space (Friis) loss at 1 m for the carrier and exponent ``n``
  (:data:`DEFAULT_EXPONENT` = 3.0; 2.0 is free space), ns-3's default transmitter
  (:data:`TX_POWER_DBM` = 16.0206 dBm, 0 dBi antennas) and receiver noise
  (thermal −174 dBm/Hz over the channel width, 7 dB noise figure). Units: dB, dBm, m.
"""

from __future__ import annotations

import math
from enum import StrEnum

from gridpeer.netsim.technology import TECH_SPECS, Tech

DEFAULT_EXPONENT = 3.0
"""Log-distance path-loss exponent of the study (suburban/rural outdoor with obstacles
between 1.5 m antennas; 2.0 is free space)."""
TX_POWER_DBM = 16.0206
"""ns-3's default transmit power (40 mW), dBm."""
NOISE_FIGURE_DB = 7.0
"""ns-3's default receiver noise figure, dB."""
THERMAL_NOISE_DBM_PER_HZ = -174.0
"""Thermal noise density at 290 K, dBm/Hz."""
PREAMBLE_SNR_DB = 4.0
"""A frame is received only if its preamble is detected: SNR at least this, dB (ns-3's
``ThresholdPreambleDetectionModel`` default). This sets a standard's range."""
MIN_RSSI_DBM = -101.0
"""Weakest signal whose preamble is considered, dBm: ns-3's ``RxSensitivity`` default.
ns-3's preamble-detection default (−82 dBm, the 802.11 standard's worst-case
sensitivity for 6 Mbit/s OFDM) would cut every link at a fixed power whatever its SNR:
85 m at 2.4 GHz and 51 m at 5 GHz with exponent 3, where real receivers decode
1–6 Mbit/s at −90 to −97 dBm."""
RURAL_ROAD_EXPONENT = 2.0
"""Path-loss exponent of the rural road: free space (Friis). Houses along a road see each
other's antennas in line of sight; over flat ground the two-ray model is Friis-like up
to its breakpoint 4π·h²/λ (227 m at 2.4 GHz, 490 m at 5.2 GHz for 1.5 m antennas)."""


class Topology(StrEnum):
    """Who talks to whom over the air."""

    ADHOC = "adhoc"
    AP = "ap"


class RateControl(StrEnum):
    """How a Wi-Fi sender picks its data rate."""

    IDEAL = "ideal"
    MINSTREL = "minstrel"


def channel_width_mhz(tech: Tech) -> int:
    """Width of the technology's channel, MHz (from its ns-3 ``ChannelSettings``)."""
    spec = TECH_SPECS[tech]
    if not spec.wifi:
        raise ValueError(f"{tech} is wired: no channel")
    return int(spec.channel.strip("{}").split(",")[1])


def path_loss_db(tech: Tech, distance_m: float, exponent: float = DEFAULT_EXPONENT) -> float:
    """Log-distance path loss at ``distance_m`` metres (≥ 1 m), dB."""
    if distance_m < 1.0:
        raise ValueError("distance must be >= 1 m (the reference distance)")
    return TECH_SPECS[tech].reference_loss_db + 10.0 * exponent * math.log10(distance_m)


def noise_dbm(tech: Tech) -> float:
    """Receiver noise power over the channel, dBm."""
    return (
        THERMAL_NOISE_DBM_PER_HZ + 10 * math.log10(channel_width_mhz(tech) * 1e6) + NOISE_FIGURE_DB
    )


def snr_db(tech: Tech, distance_m: float, exponent: float = DEFAULT_EXPONENT) -> float:
    """Signal-to-noise ratio of a link ``distance_m`` metres long, dB."""
    return TX_POWER_DBM - path_loss_db(tech, distance_m, exponent) - noise_dbm(tech)


def range_m(tech: Tech, exponent: float = DEFAULT_EXPONENT) -> float:
    """Longest link whose preamble is still detected (SNR = :data:`PREAMBLE_SNR_DB`), m."""
    return distance_for_snr_m(tech, PREAMBLE_SNR_DB, exponent)


def distance_for_snr_m(tech: Tech, snr: float, exponent: float = DEFAULT_EXPONENT) -> float:
    """Link length at which the SNR falls to ``snr`` dB, m."""
    budget = TX_POWER_DBM - TECH_SPECS[tech].reference_loss_db - noise_dbm(tech) - snr
    return float(10 ** (budget / (10.0 * exponent)))


def rate_manager(control: RateControl, tech: Tech) -> str:
    """ns-3 ``WifiRemoteStationManager`` type name for ``control`` on ``tech``."""
    if control is RateControl.IDEAL:
        return "ns3::IdealWifiManager"
    ht = TECH_SPECS[tech].standard in ("WIFI_STANDARD_80211n", "WIFI_STANDARD_80211ac")
    return "ns3::MinstrelHtWifiManager" if ht else "ns3::MinstrelWifiManager"
