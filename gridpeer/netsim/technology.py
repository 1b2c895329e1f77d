"""Network technologies of the study: five IEEE 802.11 variants and two Ethernet speeds.

Each technology maps to ns-3 settings. Wi-Fi runs in ad-hoc mode (every node talks to
every other directly, one hop) with ns-3's ``IdealWifiManager`` picking the fastest
rate the link's SNR allows; Ethernet is switched (a star of full-duplex links to one
switch). Ranges, rates and frequencies are in SI units: Hz, bit/s, dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

SPEED_OF_LIGHT = 299_792_458.0
"""Speed of light in vacuum, m/s."""


class Tech(StrEnum):
    """The technologies compared by the thesis."""

    WIFI_B = "802.11b"
    WIFI_G = "802.11g"
    WIFI_N_24 = "802.11n-2.4GHz"
    WIFI_N_5 = "802.11n-5GHz"
    WIFI_AC = "802.11ac"
    ETH_100M = "802.3u"
    ETH_1G = "802.3ab"


@dataclass(frozen=True)
class TechSpec:
    """ns-3 settings of one technology.

    ``standard`` is the ns-3 ``WifiStandard`` name (Wi-Fi only); ``channel`` the ns-3
    ``ChannelSettings`` string ``{number, width MHz, band, primary20}``; ``freq_hz`` the
    carrier frequency (Hz) used for the propagation reference loss; ``rate_bps`` the
    Ethernet line rate (bit/s).
    """

    tech: Tech
    description: str
    wifi: bool
    standard: str = ""
    channel: str = ""
    freq_hz: float = 0.0
    rate_bps: int = 0

    @property
    def reference_loss_db(self) -> float:
        """Free-space (Friis) path loss at 1 m for the carrier frequency, dB."""
        if not self.wifi:
            raise ValueError(f"{self.tech} is wired: no radio propagation")
        return 20.0 * math.log10(4.0 * math.pi * self.freq_hz / SPEED_OF_LIGHT)


TECH_SPECS: dict[Tech, TechSpec] = {
    Tech.WIFI_B: TechSpec(
        Tech.WIFI_B,
        "IEEE 802.11b, 2.4 GHz, DSSS/CCK up to 11 Mbit/s",
        True,
        "WIFI_STANDARD_80211b",
        "{1, 22, BAND_2_4GHZ, 0}",
        2.412e9,
    ),
    Tech.WIFI_G: TechSpec(
        Tech.WIFI_G,
        "IEEE 802.11g, 2.4 GHz, ERP-OFDM up to 54 Mbit/s",
        True,
        "WIFI_STANDARD_80211g",
        "{1, 20, BAND_2_4GHZ, 0}",
        2.412e9,
    ),
    Tech.WIFI_N_24: TechSpec(
        Tech.WIFI_N_24,
        "IEEE 802.11n, 2.4 GHz, 20 MHz, HT MCS 0-7 (one stream)",
        True,
        "WIFI_STANDARD_80211n",
        "{1, 20, BAND_2_4GHZ, 0}",
        2.412e9,
    ),
    Tech.WIFI_N_5: TechSpec(
        Tech.WIFI_N_5,
        "IEEE 802.11n, 5 GHz, 40 MHz, HT MCS 0-7 (one stream)",
        True,
        "WIFI_STANDARD_80211n",
        "{38, 40, BAND_5GHZ, 0}",
        5.19e9,
    ),
    Tech.WIFI_AC: TechSpec(
        Tech.WIFI_AC,
        "IEEE 802.11ac, 5 GHz, 80 MHz, VHT MCS 0-9 (one stream)",
        True,
        "WIFI_STANDARD_80211ac",
        "{42, 80, BAND_5GHZ, 0}",
        5.21e9,
    ),
    Tech.ETH_100M: TechSpec(
        Tech.ETH_100M,
        "IEEE 802.3u Fast Ethernet, 100 Mbit/s, switched",
        False,
        rate_bps=100_000_000,
    ),
    Tech.ETH_1G: TechSpec(
        Tech.ETH_1G, "IEEE 802.3ab Gigabit Ethernet, 1 Gbit/s, switched", False, rate_bps=10**9
    ),
}

ALL_TECHS: tuple[Tech, ...] = tuple(Tech)
