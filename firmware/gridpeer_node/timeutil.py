# UTC time helpers without a time-zone database (MicroPython has none).
# On the Pico, floats are single precision (24-bit mantissa): a POSIX time as a float is
# off by up to two minutes. The node keeps times as integer seconds there; a fraction is
# kept only when the input has one.


def days_from_civil(y, m, d):
    """Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_ts(value):
    """POSIX seconds (int/float) or ISO 8601 'YYYY-MM-DDTHH:MM:SS[.f][Z|+HH:MM]' -> seconds
    (an int unless the input has a fraction of a second)."""
    if isinstance(value, (int, float)):
        return value
    s = str(value).strip()
    if len(s) < 19 or s[4] != "-" or s[7] != "-" or s[10] not in "T " or s[13] != ":":
        raise ValueError("not an ISO 8601 timestamp: %r" % value)
    secs = days_from_civil(int(s[0:4]), int(s[5:7]), int(s[8:10])) * 86400
    secs += int(s[11:13]) * 3600 + int(s[14:16]) * 60 + int(s[17:19])
    rest = s[19:]
    frac = 0
    if rest.startswith("."):
        j = 1
        while j < len(rest) and rest[j].isdigit():
            j += 1
        frac = float("0" + rest[:j]) or 0
        rest = rest[j:]
    if rest in ("", "Z", "z"):
        offset = 0
    elif rest[0] in "+-" and len(rest) == 6 and rest[3] == ":":
        offset = int(rest[1:3]) * 3600 + int(rest[4:6]) * 60
        offset = -offset if rest[0] == "-" else offset
    else:
        raise ValueError("bad time-zone offset in %r" % value)
    return secs + frac - offset
