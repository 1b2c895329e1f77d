# How one relay's metered energy is split among the trades it serves: the rule of
# docs/delivery.md ("One relay, several trades"), the same as the home agent's
# gridpeer/market/delivery_split.py, written for MicroPython (no typing, no math.floor of
# huge values). Energy in Wh.
EPS = 1e-9


def share_energy(energy_wh, contracted_wh, measured_wh):
    """Split ``energy_wh`` (>= 0) among trades pro rata to ``contracted_wh``, each capped at
    ``contracted - measured`` (what a full trade cannot take goes to the others in the same
    proportions); returns each trade's part, Wh (sum = min(energy, room))."""
    n = len(contracted_wh)
    if len(measured_wh) != n:
        raise ValueError("contracted and measured lengths differ")
    room = [max(0.0, float(contracted_wh[i]) - float(measured_wh[i])) for i in range(n)]
    alloc = [0.0] * n
    left = max(0.0, float(energy_wh))
    open_ = [i for i in range(n) if room[i] > EPS]
    while left > EPS and open_:
        weights = [max(float(contracted_wh[i]), EPS) for i in open_]
        total_w = sum(weights)
        given = 0.0
        for k in range(len(open_)):
            i = open_[k]
            take = min(left * weights[k] / total_w, room[i] - alloc[i])
            alloc[i] += take
            given += take
        left -= given
        open_ = [i for i in open_ if room[i] - alloc[i] > EPS]
        if given <= EPS:
            break
    return alloc


def round_group(values_wh, ids):
    """Whole Wh per trade of a group finishing together, summing to the whole Wh of their
    total (largest remainder; ties to the lowest id). Each is floor or ceil of its value."""
    vals = [max(0.0, float(v)) for v in values_wh]
    total = int(sum(vals) + 1e-6)
    out = [int(v + 1e-9) for v in vals]
    extra = total - sum(out)
    order = sorted(range(len(vals)), key=lambda i: (-(vals[i] - out[i]), ids[i]))
    for i in order[:max(0, extra)]:
        out[i] += 1
    return out
