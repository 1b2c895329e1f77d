# Hardware abstraction: the Pico W's ADC/GPIO, or a simulation for tests and bench work.
# A HAL has read(channel) -> (volts, amps) and relay(name, closed).
from gridpeer_node.sensors import linear


class PicoHAL:
    """Channels map to ADC pins with linear calibrations; relays to GPIO pins.

    channels: {"pv": {"v_pin": 26, "v_gain": 11.0, "i_pin": 27, "i_gain": 5.405,
    "i_offset_v": 1.65}, ...}; relays: {"out": 15, "in": 14} (active high).
    """

    def __init__(self, channels, relays):
        import machine  # only on the board

        self._adc = {}
        self.channels = channels
        for spec in channels.values():
            for key in ("v_pin", "i_pin"):
                pin = spec.get(key)
                if pin is not None and pin not in self._adc:
                    self._adc[pin] = machine.ADC(pin)
        self._relays = {name: machine.Pin(pin, machine.Pin.OUT, value=0)
                        for name, pin in relays.items()}

    def read(self, channel):
        spec = self.channels[channel]
        v = linear(self._adc[spec["v_pin"]].read_u16(), spec.get("v_gain", 1.0),
                   spec.get("v_offset_v", 0.0))
        i = 0.0
        if spec.get("i_pin") is not None:
            i = linear(self._adc[spec["i_pin"]].read_u16(), spec.get("i_gain", 1.0),
                       spec.get("i_offset_v", 0.0))
        return v, i

    def relay(self, name, closed):
        self._relays[name].value(1 if closed else 0)


class SimHAL:
    """Fixed readings per channel; the ``p2p`` channel carries current only while a
    relay is closed (``p2p_amps`` A at the channel's volts)."""

    def __init__(self, readings, p2p_amps=0.0):
        self.readings = dict(readings)
        self.p2p_amps = p2p_amps
        self.relays = {"in": False, "out": False}
        self.switches = []  # (name, closed) in order, for inspection

    def read(self, channel):
        if channel == "p2p":
            v = self.readings.get("p2p", (230.0, 0.0))[0]
            on = self.relays["in"] or self.relays["out"]
            return v, (self.p2p_amps if on else 0.0)
        return self.readings[channel]

    def relay(self, name, closed):
        self.relays[name] = closed
        self.switches.append((name, closed))
