# AC power from sampled voltage and current waveforms (ZMPT101B voltage module, SCT-013
# current transformer on the Pico's ADC). Pure arithmetic on sequences of ADC counts: runs
# on MicroPython (no numpy) and on CPython (tests). See docs/firmware.md, "AC node".
import math

ADC_FULL_SCALE = 65535  # machine.ADC.read_u16() range
ADC_VREF = 3.3  # V at full scale on the Pico
CLIP_MARGIN = 64  # counts (4 LSB of the 12-bit ADC) from either rail count as clipped
VOLTS_PER_COUNT = ADC_VREF / ADC_FULL_SCALE


def whole_cycles(v, n, spc, min_swing):
    """The window [a, b) of whole mains cycles in the first ``n`` voltage samples ``v``.

    The window runs from the first to the last rising zero crossing of the voltage (about
    its mean, with a hysteresis of ``min_swing / 4`` counts against noise), so it holds whole
    cycles at the real mains frequency. Without a usable voltage (peak-to-peak swing below
    ``min_swing`` counts, or fewer than two crossings) it falls back to the nominal
    ``spc`` samples per cycle: ``floor(n / spc)`` cycles from sample 0.
    Returns (a, b, cycles, found): ``found`` is False for the fallback.
    """
    lo = hi = v[0]
    total = 0  # integer sums are exact (and stay small ints: < 2**30 for 16,000 samples)
    for k in range(n):
        x = v[k]
        total += x
        if x < lo:
            lo = x
        if x > hi:
            hi = x
    cycles = int(n / spc)
    fallback = (0, min(n, int(cycles * spc + 0.5)), cycles, False)
    if hi - lo < min_swing or cycles < 1:
        return fallback
    mid = total / n
    hyst = (hi - lo) / 4
    armed = False
    first = last = -1
    count = 0
    for k in range(n):
        x = v[k] - mid
        if x < -hyst:
            armed = True
        elif armed and x >= 0:
            armed = False
            if first < 0:
                first = k
            last = k
            count += 1
    if count < 2:
        return fallback
    return first, last, count - 1, True


def analyse(v, i, n, spc, cal):
    """RMS voltage and current, real and apparent power, power factor of one burst.

    v, i: ADC counts (0..65535) of the voltage and current sensors, ``n`` samples each,
    taken in pairs at a uniform rate of ``spc`` samples per nominal mains cycle.
    cal: calibration (docs/firmware.md): ``v_cal`` mains volts per pin volt, ``i_cal``
    amperes per pin volt (negative for a reversed CT), ``phase_deg`` degrees by which the
    sensors make the current lag the voltage (corrected by delaying the voltage),
    ``i_floor_a`` current below which the channel reads 0 A (CT noise), ``v_floor_v``
    likewise for the voltage, ``min_swing`` voltage swing in counts below which the
    voltage is not used to find the cycles (default 400), ``f_hz`` nominal mains frequency.

    The DC bias of each sensor (mid-rail) is removed as the mean over the whole cycles.
    Returns a dict: ``v_rms`` V, ``i_rms`` A, ``p_w`` real power W (sign: the CT's
    orientation; positive = export on the P2P channel), ``s_va`` apparent power VA,
    ``pf`` power factor |P|/S (0 when S is 0), ``f_hz`` measured mains frequency in Hz
    (from the zero crossings and the nominal ``cal["f_hz"]``, 50 or 60, that set the sample
    rate; 0 without a usable voltage), ``cycles`` whole cycles used, ``clipped`` samples
    at an ADC rail (a clipped waveform reads low).
    """
    v_cal = cal.get("v_cal", 1.0)
    i_cal = cal.get("i_cal", 1.0)
    a, b, cycles, found = whole_cycles(v, n, spc, cal.get("min_swing", 400))
    m = b - a
    if m < 2 or cycles < 1:
        raise ValueError("burst holds no whole mains cycle (%d samples)" % n)
    sv = si = 0  # exact integer sums (the board's floats are single precision)
    clipped = 0
    hi_clip = ADC_FULL_SCALE - CLIP_MARGIN
    for k in range(a, b):
        x = v[k]
        y = i[k]
        sv += x
        si += y
        if x <= CLIP_MARGIN or x >= hi_clip:
            clipped += 1
        if y <= CLIP_MARGIN or y >= hi_clip:
            clipped += 1
    mv = sv / m
    mi = si / m
    spc_real = m / cycles
    # Delay the voltage by phase_deg: v'(k) = v(k - s), circular over whole cycles.
    s = cal.get("phase_deg", 0.0) / 360.0 * spc_real
    s -= math.floor(s / m) * m  # 0 <= s < m
    whole = int(s)
    frac = s - whole
    svv = sii = svi = 0.0
    for k in range(m):
        x = v[a + k] - mv
        y = i[a + k] - mi
        svv += x * x
        sii += y * y
        j = k - whole - 1  # v(k - s) between samples j and j + 1
        if j < 0:
            j += m
        j1 = j + 1
        if j1 == m:
            j1 = 0
        x0 = v[a + j] - mv
        xs = x0 + (v[a + j1] - mv - x0) * (1.0 - frac)
        svi += xs * y
    kv = VOLTS_PER_COUNT * v_cal
    ki = VOLTS_PER_COUNT * i_cal
    v_rms = math.sqrt(svv / m) * abs(kv)
    i_rms = math.sqrt(sii / m) * abs(ki)
    p = svi / m * kv * ki
    if v_rms < cal.get("v_floor_v", 0.0):
        v_rms = 0.0
        p = 0.0
    if i_rms < cal.get("i_floor_a", 0.0):
        i_rms = 0.0
        p = 0.0
    s_va = v_rms * i_rms
    if abs(p) > s_va:  # rounding on a pure resistive load
        p = s_va if p > 0 else -s_va
    return {
        "v_rms": v_rms,
        "i_rms": i_rms,
        "p_w": p,
        "s_va": s_va,
        "pf": abs(p) / s_va if s_va > 0 else 0.0,
        "f_hz": cal.get("f_hz", 50) * spc / spc_real if found else 0.0,
        "cycles": cycles,
        "clipped": clipped,
    }


def rescale(value, reference, measured):
    """Calibration step: a constant that made the node read ``measured`` where a reference
    meter read ``reference`` becomes ``value * reference / measured``."""
    if measured == 0:
        raise ValueError("the node measured 0: check the sensor wiring")
    return value * reference / measured


def phase_error_deg(v, i, n, spc, cal):
    """The ``phase_deg`` calibration constant, from a burst taken on a purely resistive
    load (a kettle, a heater, an incandescent lamp: true phase 0): the angle by which the
    measured current lags the measured voltage, in degrees (atan2 of the power with the
    voltage delayed a quarter cycle over the real power)."""
    c = dict(cal)
    c["phase_deg"] = 0.0
    c["i_floor_a"] = c["v_floor_v"] = 0.0
    p = analyse(v, i, n, spc, c)["p_w"]
    c["phase_deg"] = 90.0
    q = analyse(v, i, n, spc, c)["p_w"]
    return math.atan2(q, p) * 180.0 / math.pi
