"""The defaults of gridpeer's settings, in one place and without dependencies (the CLI
shows them in --help without importing pydantic). :mod:`gridpeer.core.settings` uses them,
and so do the simulator's market config and the web app's fallbacks.

Units: prices wei per kWh; speed model seconds per wall second.
"""

from __future__ import annotations

DEFAULT_IMPORT_WEI_PER_KWH = 180 * 10**12
"""The grid import price when none is configured: 180 CLP/kWh at 10^12 wei per CLP (a
Chilean residential tariff). The one default for the live system and the simulator."""
DEFAULT_FEED_IN_WEI_PER_KWH = 60 * 10**12
"""The feed-in price when none is configured: 60 CLP/kWh at 10^12 wei per CLP."""
DEFAULT_CURRENCY = "CLP"
DEFAULT_WEI_PER_UNIT = 10**12
"""Wei per unit of the default currency (1 CLP = 10^12 wei)."""
DEFAULT_SPEED = 60.0
"""The demo's model seconds per wall second: a day in 24 minutes, a bidding window in 2.5."""
DEFAULT_HOUSES = 5
"""The demo's houses: the thesis lab's mix."""
FEEDER_PRESETS = (
    "kerber-landnetz-freileitung-1",
    "kerber-landnetz-kabel-1",
    "kerber-dorfnetz",
    "kerber-vorstadtnetz-kabel-1",
    "cigre-lv",
)
"""pandapower's shipped low-voltage test feeders, by the name a scenario's ``[feeder]`` and
the community config's ``[grid]`` use."""
FEEDER_FILE_SUFFIXES = (".json", ".p", ".pkl", ".xlsx")
"""pandapower network files gridpeer reads."""
DEMO_FEEDERS = (
    (8, "kerber-landnetz-kabel-1"),
    (57, "kerber-dorfnetz"),
    (146, "kerber-vorstadtnetz-kabel-1"),
)
"""The demo's feeder by community size: (load buses, preset), smallest first; the demo
takes the first with a load bus per house (else the largest)."""
DEMO_FEEDER = DEMO_FEEDERS[0][1]
"""The 5-house demo's feeder: a Kerber cable network with 8 load buses (100 kVA)."""
