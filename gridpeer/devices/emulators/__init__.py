"""Emulated smart plugs and energy meters that speak their vendors' documented MQTT
protocols (Tasmota, Shelly Gen2+), driven by a power flow: for tests, benchmarks and
labs without hardware. See :mod:`.tasmota` and :mod:`.shelly`."""
