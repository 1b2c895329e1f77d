# Hardware abstraction: the Pico W's ADC/GPIO, or a simulation for tests and bench work.
# A HAL has measure(channel) -> {"v": V, "i": A, "p": W, ...} and relay(name, closed).
import math

from gridpeer_node import acpower
from gridpeer_node.sensors import linear

ADC_PINS = (26, 27, 28)  # ADC0-ADC2; ADC3 (GP29) reads VSYS on the Pico W, ADC4 the die


def check_channels(channels, relays):
    """Refuse a wiring that cannot work; returns None or raises ValueError with the reason.

    channels: name -> spec. A DC channel ({"kind": "dc"}, the lab panel) has ``v_pin`` and
    optionally ``i_pin``; an AC channel ({"kind": "ac"}) has ``v_pin`` (ZMPT101B) and
    ``i_pin`` (SCT-013). Every pin is one of ADC0-ADC2 (GP26-28) and is wired to one
    sensor: only a voltage pin may be shared, by channels of the same kind with the same
    voltage calibration (one ZMPT101B measures the mains for every CT; one divider the DC
    bus for every Hall sensor on it). relays: name -> GPIO number or
    {"pin": GPIO, "meter": channel}; relay GPIOs are distinct and not ADC pins, and each
    relay's meter is a configured channel.
    """
    owner = {}  # pin -> (channel, role, v_cal)
    for name, spec in channels.items():
        kind = spec.get("kind", "dc")
        if kind not in ("dc", "ac"):
            raise ValueError("channel %s: kind must be 'dc' or 'ac'" % name)
        if kind == "ac" and spec.get("i_pin") is None:
            raise ValueError("channel %s: an AC channel needs i_pin (its CT)" % name)
        for role in ("v_pin", "i_pin"):
            pin = spec.get(role)
            if pin is None:
                continue
            if pin not in ADC_PINS:
                raise ValueError("channel %s: %s %r is not ADC0-ADC2 (26-28)" % (name, role, pin))
            vcal = (spec.get("v_cal"), spec.get("v_gain"), spec.get("v_offset_v"))
            mine = (name, role, kind, vcal)
            if pin in owner:
                other = owner[pin]
                shared = (role == "v_pin" and other[1] == "v_pin" and kind == other[2]
                          and mine[3] == other[3])
                if not shared:
                    raise ValueError("ADC pin %d wired to both %s.%s and %s.%s"
                                     % (pin, other[0], other[1], name, role))
            else:
                owner[pin] = mine
    gpios = set()
    for name, spec in relays.items():
        pin, meter = relay_spec(spec)
        if pin in gpios or pin in ADC_PINS:
            raise ValueError("relay %s: GPIO %r already used" % (name, pin))
        gpios.add(pin)
        if meter not in channels:
            raise ValueError("relay %s: meter channel %r is not configured" % (name, meter))


def relay_spec(spec):
    """(GPIO, meter channel) of a relay given as a GPIO number or {"pin", "meter"}."""
    if isinstance(spec, dict):
        return spec["pin"], spec.get("meter", "p2p")
    return spec, "p2p"


def _dc(spec, v_raw, i_raw):
    v = linear(v_raw, spec.get("v_gain", 1.0), spec.get("v_offset_v", 0.0))
    i = 0.0 if i_raw is None else linear(i_raw, spec.get("i_gain", 1.0),
                                         spec.get("i_offset_v", 0.0))
    return {"v": v, "i": i, "p": v * i}


def _ac(result):
    return {"v": result["v_rms"], "i": result["i_rms"], "p": result["p_w"],
            "s": result["s_va"], "pf": result["pf"], "f": result["f_hz"],
            "clipped": result["clipped"]}


class PicoHAL:
    """Channels on ADC pins, relays on GPIO pins (active high, open at boot).

    channels: see :func:`check_channels`; AC channels also take ``v_cal``, ``i_cal``,
    ``phase_deg``, ``i_floor_a`` (docs/firmware.md, calibration). ac: {"f_hz": 50 or 60,
    "spc": samples per cycle, "cycles": whole cycles per measurement}.
    """

    def __init__(self, channels, relays, ac=None):
        import machine  # only on the board

        check_channels(channels, relays)
        self.channels = channels
        self.ac = ac or {}
        self._adc = {}
        for spec in channels.values():
            for key in ("v_pin", "i_pin"):
                pin = spec.get(key)
                if pin is not None and pin not in self._adc:
                    self._adc[pin] = machine.ADC(pin)
        self._relays = {name: machine.Pin(relay_spec(spec)[0], machine.Pin.OUT, value=0)
                        for name, spec in relays.items()}
        f_hz = self.ac.get("f_hz", 50)
        spc = self.ac.get("spc", 64)
        self._period_us = int(1_000_000 / (f_hz * spc))
        self._spc = 1_000_000 / (f_hz * self._period_us)  # the rate really used
        # two cycles more than asked: the first and last rising crossings fall inside
        self._n = int((self.ac.get("cycles", 10) + 2) * self._spc)
        from array import array

        self._vbuf = array("H", bytes(2 * self._n))  # allocated once: no GC in a burst
        self._ibuf = array("H", bytes(2 * self._n))

    def _burst(self, v_adc, i_adc):
        import time

        rv, ri, v, i = v_adc.read_u16, i_adc.read_u16, self._vbuf, self._ibuf
        us, add, diff, step = time.ticks_us, time.ticks_add, time.ticks_diff, self._period_us
        t = us()
        for k in range(self._n):
            v[k] = rv()
            i[k] = ri()
            t = add(t, step)
            while diff(t, us()) > 0:
                pass

    def measure(self, channel):
        spec = self.channels[channel]
        if spec.get("kind", "dc") == "ac":
            self._burst(self._adc[spec["v_pin"]], self._adc[spec["i_pin"]])
            cal = dict(spec)
            cal["f_hz"] = self.ac.get("f_hz", 50)
            return _ac(acpower.analyse(self._vbuf, self._ibuf, self._n, self._spc, cal))
        i_pin = spec.get("i_pin")
        return _dc(spec, self._adc[spec["v_pin"]].read_u16(),
                   None if i_pin is None else self._adc[i_pin].read_u16())

    def phase_error(self, channel):
        """One burst of an AC channel on a resistive load -> its ``phase_deg`` constant
        (calibration step 3, docs/firmware.md)."""
        spec = self.channels[channel]
        self._burst(self._adc[spec["v_pin"]], self._adc[spec["i_pin"]])
        return acpower.phase_error_deg(self._vbuf, self._ibuf, self._n, self._spc, spec)

    def relay(self, name, closed):
        self._relays[name].value(1 if closed else 0)


class SimHAL:
    """Simulated sensors: fixed (V, A) per channel. The ``p2p`` channel carries
    ``p2p_amps`` A while a relay is closed: positive (export) through ``out``, negative
    through ``in``. With ``ac`` ({"pf": power factor, "spc": samples per cycle}) every
    channel is measured as an AC node would: waveforms quantised to the 12-bit ADC and
    run through :func:`acpower.analyse`."""

    V_CAL = 230.0 / 0.6
    I_CAL = 2000.0 / 33.0

    def __init__(self, readings, p2p_amps=0.0, ac=None):
        self.readings = dict(readings)
        self.p2p_amps = p2p_amps
        self.ac = ac
        self.relays = {"in": False, "out": False}
        self.switches = []  # (name, closed) in order, for inspection

    def _levels(self, channel):
        if channel == "p2p":
            v = self.readings.get("p2p", (230.0, 0.0))[0]
            if self.relays["out"]:
                return v, self.p2p_amps
            return v, (-self.p2p_amps if self.relays["in"] else 0.0)
        return self.readings[channel]

    def measure(self, channel):
        v, i = self._levels(channel)
        if self.ac is None:
            return {"v": v, "i": i, "p": v * i}
        spc = self.ac.get("spc", 32)
        phi = math.acos(self.ac.get("pf", 1.0)) + (math.pi if i < 0 else 0.0)
        n = int(11 * spc)
        vs, cs = [], []
        for k in range(n):
            w = 2 * math.pi * k / spc
            for x, cal, out, ph in ((v, self.V_CAL, vs, 0.0), (abs(i), self.I_CAL, cs, phi)):
                q = int(0.5 + (1.65 + x * 1.4142 * math.sin(w - ph) / cal) / 3.3 * 4095)
                q = min(4095, max(0, q))
                out.append((q << 4) | (q >> 8))
        cal = {"v_cal": self.V_CAL, "i_cal": self.I_CAL, "i_floor_a": 0.05}
        return _ac(acpower.analyse(vs, cs, n, spc, cal))

    def relay(self, name, closed):
        self.relays[name] = closed
        self.switches.append((name, closed))
