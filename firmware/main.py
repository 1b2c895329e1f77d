# Entry point on a Raspberry Pi Pico W. Copy main.py, config.py and gridpeer_node/ to
# the board (e.g. `mpremote cp -r gridpeer_node main.py config.py :`).
import time

import config
from gridpeer_node.hal import PicoHAL
from gridpeer_node.mqtt import Client, MQTTError
from gridpeer_node.node import Node


def wifi_connect():
    import network

    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(config.WIFI_SSID, config.WIFI_PASSWORD)
        for _ in range(60):
            if wlan.isconnected():
                break
            time.sleep(0.5)
    if not wlan.isconnected():
        raise OSError("Wi-Fi connection failed")
    try:
        import ntptime

        ntptime.host = config.NTP_HOST
        ntptime.settime()  # the node's clock in UTC
    except Exception as exc:  # keep running on the RTC if NTP is unreachable
        print("NTP failed:", exc)


def run():
    wifi_connect()
    hal = PicoHAL(config.CHANNELS, config.RELAYS)
    client = Client(config.NODE["house"] + "-node", config.BROKER_HOST, config.BROKER_PORT,
                    user=config.MQTT_USER, password=config.MQTT_PASSWORD)
    node = Node(config.NODE, hal, client, time.time)
    while True:
        try:
            client.connect()
            client.subscribe(node.prefix + "cmd/delivery", qos=1)
            while True:
                node.step()
        except (OSError, MQTTError) as exc:
            print("connection lost:", exc)
            client.sock = None
            time.sleep(5)


run()
