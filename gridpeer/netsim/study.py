"""The study grid: every scenario × technology × number of prosumers × market × traffic."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gridpeer.netsim.layout import MAX_HOUSES
from gridpeer.netsim.messages import Traffic
from gridpeer.netsim.radio import RateControl, Topology
from gridpeer.netsim.scenario import MIN_PEERS, Market, Pattern, RunConfig, ScenarioKind
from gridpeer.netsim.technology import ALL_TECHS, Tech

ALL_PEERS: tuple[int, ...] = tuple(range(MIN_PEERS, MAX_HOUSES + 1))


def parse_peers(text: str) -> tuple[int, ...]:
    """Parse ``"2-7"``, ``"3"`` or ``"2,4,7"`` into sorted peer counts in 2..7.

    Raises ``ValueError`` with the reason for anything else.
    """
    out: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo_s, sep, hi_s = part.partition("-")
        try:
            lo = int(lo_s)
            hi = int(hi_s) if sep else lo
        except ValueError as exc:
            raise ValueError(f"bad peer count {part!r}: use e.g. 2-7, 4 or 2,4,7") from exc
        if not MIN_PEERS <= lo <= hi <= MAX_HOUSES:
            raise ValueError(f"peer counts must be within {MIN_PEERS}..{MAX_HOUSES}: {part!r}")
        out.update(range(lo, hi + 1))
    if not out:
        raise ValueError("no peer count given")
    return tuple(sorted(out))


def study_grid(
    kinds: Sequence[ScenarioKind] = tuple(ScenarioKind),
    techs: Sequence[Tech] = ALL_TECHS,
    peers: Iterable[int] = ALL_PEERS,
    markets: Sequence[Market] = tuple(Market),
    traffics: Sequence[Traffic] = tuple(Traffic),
    seconds: float = 10.0,
    seed: int = 1,
    patterns: Sequence[Pattern] = (Pattern.SMOOTH,),
    burst_ms: float = 1.0,
    *,
    spacing_m: float | None = None,
    topology: Topology = Topology.ADHOC,
    rate_control: RateControl = RateControl.IDEAL,
    exponent: float | None = None,
) -> list[RunConfig]:
    """All study points, ordered pattern → traffic → scenario → market → technology →
    peers.

    ``han`` is one house, so it gets one point per technology whatever ``peers`` says.
    ``spacing_m`` (the rural road), ``topology``, ``rate_control`` and ``exponent`` are
    the same for every point (see :class:`RunConfig`).
    """
    peer_list = tuple(peers)
    out: list[RunConfig] = []
    for pattern, traffic in ((p, t) for p in patterns for t in traffics):
        for kind in kinds:
            mk: Sequence[Market | None] = markets if kind is ScenarioKind.NAN_TRADING else (None,)
            for market in mk:
                for tech in techs:
                    counts = (1,) if kind is ScenarioKind.HAN else peer_list
                    out.extend(
                        RunConfig(
                            kind,
                            tech,
                            n,
                            market,
                            traffic,
                            seconds,
                            seed,
                            pattern,
                            burst_ms,
                            spacing_m,
                            topology,
                            rate_control,
                            exponent,
                        )
                        for n in counts
                    )
    return out
