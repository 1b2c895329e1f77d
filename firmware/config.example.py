# Copy to config.py on the board and fill in. Never commit a filled-in config.py.
# Wiring and calibration: docs/firmware.md ("AC node", "Calibration").
WIFI_SSID = "your-network"
WIFI_PASSWORD = "change-me"
NTP_HOST = "pool.ntp.org"
BROKER_HOST = "192.0.2.10"  # the community's MQTT broker (documentation address); must be
# a name or address in the broker's certificate ([mqtt] host / server_names)
BROKER_PORT = 8883
CA_FILE = "ca.crt"  # the community's CA (broker-config's ca.crt, copied to the board): TLS,
# the broker's certificate verified; None = plain TCP (never on a real network)
MQTT_USER = "h1"  # per-house credentials issued by `gridpeer serve`
MQTT_PASSWORD = "change-me"

NODE = {
    "community": "lab",
    "house": "h1",
    "devices": ("meter",),  # an AC household: the smart meter; the P2P line meters deliveries
    "period_s": 5,  # seconds between readings (integers: the board's floats are 32-bit)
    "state_dir": "deliveries",  # one small record per trade on flash
    # readings kept while the broker is unreachable: 64 in RAM, then flash segments of 64
    # (+ 32 segments = 2,112 readings, about 2.9 h at one reading per 5 s); oldest dropped
    # and counted beyond that
    "buffer": {"ram_max": 64, "flash_dir": "outbox", "seg_len": 64, "seg_max": 32},
    "reconnect_s": 5,
    "republish_s": 60,  # an unacknowledged delivery result is published again this often
}

# The Pico W has three ADC pins for sensors: GP26 (ADC0), GP27 (ADC1), GP28 (ADC2).
# AC household: one ZMPT101B on the mains (shared by both AC channels) and two SCT-013
# current transformers, one around the house's supply, one around the P2P line.
# v_cal: mains volts per pin volt; i_cal: amperes per pin volt (SCT-013-000, 2000 turns,
# on a 33 ohm burden: 2000 / 33 = 60.6; an SCT-013-030 with its built-in burden: 30.0;
# negative if the CT is clipped on the wrong way round); phase_deg: current lag of the
# sensors, measured on a resistive load. Start from these, then calibrate.
# (MicroPython has no ** in dict displays: the shared v_pin/v_cal are written twice.)
CHANNELS = {
    "meter": {"kind": "ac", "v_pin": 26, "v_cal": 383.0, "i_pin": 27, "i_cal": 60.6,
              "phase_deg": 0.0, "i_floor_a": 0.05},
    "p2p": {"kind": "ac", "v_pin": 26, "v_cal": 383.0, "i_pin": 28, "i_cal": 60.6,
            "phase_deg": 0.0, "i_floor_a": 0.05},
}
AC = {"f_hz": 50, "spc": 64, "cycles": 10}  # mains 50 or 60 Hz; samples per cycle; cycles
# OUT (seller) and IN (buyer) relays on GP15/GP14, both metered by the P2P line's CT:
# one delivery at a time on that line.
RELAYS = {"out": {"pin": 15, "meter": "p2p"}, "in": {"pin": 14, "meter": "p2p"}}

# The DC lab panel instead (NODE["devices"] = ("bess",), CHANNELS = DC_LAB_CHANNELS):
# a divider on the DC bus (gain (R1+R2)/R2), shared by the battery's and the P2P line's
# ACS712-05B Hall sensors (185 mV/A around 1.65 V: gain 1/0.185, offset 1.65 V). Three
# pins hold no more: the PV string needs an external ADC (e.g. an ADS1115 on I2C, not
# supported here).
DC_LAB_CHANNELS = {
    "bess": {"kind": "dc", "v_pin": 26, "v_gain": 11.0, "i_pin": 27, "i_gain": 5.405,
             "i_offset_v": 1.65},
    "p2p": {"kind": "dc", "v_pin": 26, "v_gain": 11.0, "i_pin": 28, "i_gain": 5.405,
            "i_offset_v": 1.65},
}
