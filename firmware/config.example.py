# Copy to config.py on the board and fill in. Never commit a filled-in config.py.
WIFI_SSID = "your-network"
WIFI_PASSWORD = "change-me"
NTP_HOST = "pool.ntp.org"
BROKER_HOST = "192.0.2.10"  # the community's MQTT broker (documentation address)
BROKER_PORT = 1883
MQTT_USER = "h1"  # per-house credentials issued by `gridpeer serve`
MQTT_PASSWORD = "change-me"

NODE = {
    "community": "lab",
    "house": "h1",
    "devices": ("meter", "pv", "bess"),
    "period_s": 1.0,
    "battery_ah": 7.0,
    "soc0": 0.5,
    "state_file": "deliveries.json",
}

# ADC pins 26-28; divider gain (R1+R2)/R2; ACS712-05B current sensors at 185 mV/A.
CHANNELS = {
    "meter": {"v_pin": 26, "v_gain": 11.0, "i_pin": 27, "i_gain": 5.405, "i_offset_v": 1.65},
    "pv": {"v_pin": 26, "v_gain": 11.0, "i_pin": 27, "i_gain": 5.405, "i_offset_v": 1.65},
    "bess": {"v_pin": 28, "v_gain": 11.0, "i_pin": 27, "i_gain": 5.405, "i_offset_v": 1.65},
    "p2p": {"v_pin": 26, "v_gain": 11.0, "i_pin": 27, "i_gain": 5.405, "i_offset_v": 1.65},
}
RELAYS = {"out": 15, "in": 14}
