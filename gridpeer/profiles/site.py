"""Where a PV system stands: coordinates and a simple climate for cell temperature."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Site:
    """A location for solar simulation.

    Attributes:
        name: label shown in reports.
        latitude: degrees north (south negative), -90..90.
        longitude: degrees east (west negative), -180..180.
        altitude_m: metres above sea level.
        temp_mean_c: daily mean air temperature, °C.
        temp_amplitude_c: half the day's max-min air temperature swing, °C (>= 0).
        utc_offset_h: civil time offset from UTC, hours (Chile standard time: -4); the
            households' daily routine (load profiles) follows this clock.
    """

    name: str = "Valparaíso, Chile"
    latitude: float = -33.05
    longitude: float = -71.6
    altitude_m: float = 40.0
    temp_mean_c: float = 15.0
    temp_amplitude_c: float = 4.0
    utc_offset_h: float = -4.0

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0:
            raise ValueError(f"latitude must be in -90..90 degrees, got {self.latitude}")
        if not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"longitude must be in -180..180 degrees, got {self.longitude}")
        if not -500.0 <= self.altitude_m <= 9000.0:
            raise ValueError(f"altitude must be in -500..9000 m, got {self.altitude_m}")
        if self.temp_amplitude_c < 0.0:
            raise ValueError(f"temperature amplitude must be >= 0 °C, got {self.temp_amplitude_c}")
        if not -14.0 <= self.utc_offset_h <= 14.0:
            raise ValueError(f"UTC offset must be in -14..14 h, got {self.utc_offset_h}")


VALPARAISO = Site()
"""The thesis site (UTFSM, Valparaíso, Chile): -33.05°, -71.6°."""
