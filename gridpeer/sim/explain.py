"""One sentence per community KPI of a comparison: do the designs differ, and why.

Pure text from the KPI dicts of :class:`~gridpeer.sim.kpis.Kpis`. Values count as equal
when their printed (rounded) forms are equal, so the sentences agree with the table.
The reasons are the simulator's own: every design sees the same households, weather,
batteries and forecasts; designs differ only in who is matched with whom and at what
price.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gridpeer.sim.kpis import COMMUNITY_KEYS, fmt

INPUTS = frozenset(
    {
        "houses",
        "days_simulated",
        "slots_simulated",
        "load_wh",
        "pv_wh",
        "baseline_self_sufficiency",
        "baseline_bill",
        "baseline_import_cost",
        "baseline_peak_import_w",
    }
)
"""KPIs fixed by the scenario (households, weather, batteries) or by the no-P2P baseline."""

VOLUME = frozenset(
    {
        "import_wh",
        "export_wh",
        "p2p_wh",
        "p2p_share",
        "self_sufficiency",
        "self_consumption",
        "delivered_ratio",
        "peak_import_w",
    }
)
"""KPIs that follow the P2P energy really delivered."""

COMMUNITY_MONEY = frozenset({"bill", "saving", "saving_pct"})
"""Community money totals (P2P payments between members cancel out in them)."""

SHARING = frozenset({"mean_p2p_price", "gini_savings", "houses_worse_off"})
"""KPIs of prices and of how the saving is shared among houses."""

_SAME_INPUT = (
    "it is fixed by the scenario: every design sees the same households, weather, "
    "batteries and forecasts, and the baseline has no P2P"
)
_DIFF_VOLUME_FORECAST = (
    "agents order from a forecast ({forecast}) and a contract delivers only what both "
    "sides really had, so which seller each design pairs with which buyer changes the "
    "energy delivered"
)
_SAME_VOLUME_FORECAST = (
    "these designs contracted and delivered the same energy: with forecast {forecast} "
    "the pairing of sellers and buyers made no difference here"
)
_SAME_VOLUME_PERFECT = (
    "with a perfect forecast every order is delivered in full and every limit price "
    "crosses by the last bidding round, so every design trades the whole smaller side "
    "of the market"
)
_DIFF_VOLUME_PERFECT = (
    "the designs match different amounts (limit prices that do not cross in a design's "
    "rounds, or a design that clears by a different rule)"
)
_MONEY = (
    "payments between members cancel out in the community total, so it follows the "
    "energy bought from and sold to the grid: designs that deliver more P2P energy save "
    "more, and designs that deliver the same energy save the same"
)
_DIFF_SHARING = (
    "each design sets prices its own way (one clearing price, each order's own price, "
    "the mid-market rate, price 0 in bill sharing, the supply-demand ratio in SDR), "
    "which moves money between sellers and buyers"
)
_SAME_SHARING = {
    "mean_p2p_price": "these designs set the same average price on the energy they traded",
    "gini_savings": "these designs split the saving among the houses alike",
    "houses_worse_off": (
        "a house is worse off only when it sells below the feed-in tariff or buys above "
        "the import tariff, and these designs do that to the same houses"
    ),
}


def _names(names: Sequence[str]) -> str:
    return ", ".join(names)


def _reason(key: str, same: bool, forecast: str) -> str:
    if key in INPUTS:
        return _SAME_INPUT if same else "the designs were run over different periods"
    if key in VOLUME:
        if forecast == "perfect":
            return _SAME_VOLUME_PERFECT if same else _DIFF_VOLUME_PERFECT
        return (_SAME_VOLUME_FORECAST if same else _DIFF_VOLUME_FORECAST).format(forecast=forecast)
    if key in COMMUNITY_MONEY:
        return _MONEY
    return _SAME_SHARING.get(key, "") if same else _DIFF_SHARING


def _interrupted_sentence(designs: Sequence[str], shown: Sequence[str]) -> str:
    stopped = [d for d, v in zip(designs, shown, strict=True) if v == "true"]
    if not stopped:
        return "interrupted is false for every design: every run covers the whole period."
    return (
        f"interrupted is true for {_names(stopped)}: the user stopped the run early, so "
        "those totals cover fewer slots (see slots_simulated) and are not comparable."
    )


def kpi_sentences(
    designs: Sequence[str], kpis: Sequence[Mapping[str, object]], forecast: str
) -> list[tuple[str, str]]:
    """``(kpi, sentence)`` for every community KPI except the design's name.

    Args:
        designs: the market design of each run.
        kpis: the community KPIs of each run (same order).
        forecast: the scenario's forecast mode (``noisy``, ``perfect``, ...).
    """
    out: list[tuple[str, str]] = []
    for key in COMMUNITY_KEYS:
        if key == "mechanism":
            continue
        shown = [fmt(k[key], key) for k in kpis]
        if key == "interrupted":
            out.append((key, _interrupted_sentence(designs, shown)))
            continue
        if len(set(shown)) == 1:
            value = shown[0] or "undefined"
            what = "the same for every design" if len(designs) > 1 else "the value"
            out.append((key, f"{key} is {what} ({value}): {_reason(key, True, forecast)}."))
            continue
        if all(v not in ("", "true", "false") for v in shown):
            values = [float(v) for v in shown]
            lo, hi = min(values), max(values)
            lo_text = shown[values.index(lo)]
            hi_text = shown[values.index(hi)]
            lo_d = [d for v, d in zip(values, designs, strict=True) if v == lo]
            hi_d = [d for v, d in zip(values, designs, strict=True) if v == hi]
            span = f"from {lo_text} ({_names(lo_d)}) to {hi_text} ({_names(hi_d)})"
        else:
            span = ", ".join(
                f"{v or 'undefined'} ({d})" for v, d in zip(shown, designs, strict=True)
            )
        out.append(
            (key, f"{key} differs between designs, {span}: {_reason(key, False, forecast)}.")
        )
    return out
