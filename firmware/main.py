# Entry point on a Raspberry Pi Pico W. Copy main.py, config.py and gridpeer_node/ to
# the board (e.g. `mpremote cp -r gridpeer_node main.py config.py :`).
# The node keeps measuring and switching relays while Wi-Fi or the broker is down; readings
# wait in its outbox and delivery results are published again until the oracle clears them.
import time

import config
import network
from gridpeer_node.hal import PicoHAL
from gridpeer_node.mqtt import Client
from gridpeer_node.node import Node

wlan = network.WLAN(network.STA_IF)


def wifi_up():
    """True once associated; starts (re)association otherwise, without waiting for it."""
    wlan.active(True)
    if wlan.isconnected():
        return True
    if wlan.status() != network.STAT_CONNECTING:
        wlan.connect(config.WIFI_SSID, config.WIFI_PASSWORD)
    return False


def set_clock():
    try:
        import ntptime

        ntptime.host = config.NTP_HOST
        ntptime.settime()  # the node's clock in UTC
        return True
    except Exception as exc:  # keep running on the RTC if NTP is unreachable
        print("NTP failed:", exc)
        return False


class WifiClient(Client):
    """The MQTT client, connecting only over an associated Wi-Fi link."""

    clock_set = False

    def connect(self):
        if not wifi_up():
            raise OSError("Wi-Fi not connected")
        if not self.clock_set:
            self.clock_set = set_clock()
        return Client.connect(self)


def run():
    for _ in range(60):  # the first association and NTP, before any reading is stamped
        if wifi_up():
            break
        time.sleep(0.5)
    hal = PicoHAL(config.CHANNELS, config.RELAYS, config.AC)
    ca = None
    ca_file = getattr(config, "CA_FILE", None)
    if ca_file:  # TLS: the broker must present a certificate signed by the community's CA
        with open(ca_file, "rb") as f:
            ca = f.read()
    client = WifiClient(config.NODE["house"] + "-node", config.BROKER_HOST, config.BROKER_PORT,
                        user=config.MQTT_USER, password=config.MQTT_PASSWORD, ack_timeout_s=3,
                        ca=ca)
    cfg = dict(config.NODE)
    cfg["relays"] = config.RELAYS
    node = Node(cfg, hal, client, time.time)
    while True:
        node.step()


run()
