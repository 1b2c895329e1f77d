# gridpeer sensor/relay node for a Raspberry Pi Pico W (MicroPython); runs on CPython too.
