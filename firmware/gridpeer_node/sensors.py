# Pure conversions from raw ADC counts to volts and amperes (no hardware access).
ADC_FULL_SCALE = 65535  # machine.ADC.read_u16() range
ADC_VREF = 3.3  # V at full scale on the Pico


def adc_volts(raw):
    """ADC counts (0..65535) -> volts at the ADC pin (0..3.3 V)."""
    if raw < 0 or raw > ADC_FULL_SCALE:
        raise ValueError("ADC count out of range: %r" % raw)
    return raw * ADC_VREF / ADC_FULL_SCALE


def linear(raw, gain, offset_v=0.0):
    """Physical value = (pin volts - offset_v) * gain.

    Voltage through a divider R1/R2: gain = (R1 + R2) / R2, offset 0 (result in V).
    Hall current sensor (e.g. ACS712-05B: 185 mV/A around Vcc/2): gain = 1 / 0.185,
    offset_v = the zero-current pin voltage (result in A).
    """
    return (adc_volts(raw) - offset_v) * gain


class Integrator:
    """Energy from sampled power: Wh = sum(P * dt) / 3600, P in W and dt in s (trapezoid).

    The total is kept as integer Wh (``whole``) plus a fraction below 1 Wh: the Pico's
    single-precision floats would round each small step away once the total is large.
    """

    def __init__(self):
        self.whole = 0
        self.frac = 0.0
        self._last = None

    @property
    def wh(self):
        return self.whole + self.frac

    def add(self, t_s, p_w):
        if self._last is not None:
            t0, p0 = self._last
            dt = t_s - t0
            if dt > 0:
                self.frac += (p0 + p_w) * 0.5 * dt / 3600.0
                n = int(self.frac)
                self.whole += n
                self.frac -= n
        self._last = (t_s, p_w)
        return self.wh


class SocEstimator:
    """Coulomb counting: SoC -= I * dt / (3600 * capacity_ah), I in A (+ = discharge)."""

    def __init__(self, capacity_ah, soc=0.5):
        if capacity_ah <= 0:
            raise ValueError("battery capacity must be > 0 Ah")
        self.capacity_ah = capacity_ah
        self.soc = soc
        self._last_t = None

    def update(self, t_s, i_a):
        if self._last_t is not None and t_s > self._last_t:
            self.soc -= i_a * (t_s - self._last_t) / (3600.0 * self.capacity_ah)
            self.soc = min(1.0, max(0.0, self.soc))
        self._last_t = t_s
        return self.soc
