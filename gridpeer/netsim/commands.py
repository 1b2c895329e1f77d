"""``gridpeer netsim``: the communication-network study (ns-3)."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TypedDict, TypeVar

import typer

from gridpeer.core.help import FlagHelpCommand
from gridpeer.netsim.radio import RateControl, Topology

INSTALL_HINT = (
    "ns-3 is not installed. It is an optional extra (~500 MB):\n"
    "    pip install 'gridpeer[netsim]'      (or: pip install 'ns3>=3.44')"
)

E = TypeVar("E", bound=StrEnum)

_SCENARIO = typer.Option(
    "all",
    "--scenario",
    "-s",
    metavar="LIST",
    help="han, nan-monitoring, nan-trading: comma-separated, or all.",
)
_TECH = typer.Option(
    "all",
    "--tech",
    "-t",
    metavar="LIST",
    help="802.11b, 802.11g, 802.11n-2.4GHz, 802.11n-5GHz, 802.11ac, 802.3u, 802.3ab: "
    "comma-separated, or all.",
)
_PEERS = typer.Option(
    "2-7", "--peers", "-p", metavar="COUNTS", help="Prosumer counts, e.g. 2-7, 4 or 2,5,7."
)
_MARKET = typer.Option(
    "all",
    "--market",
    "-m",
    metavar="NAME",
    help="nan-trading market: decentralized, centralized, or all.",
)
_TRAFFIC = typer.Option(
    "all",
    "--traffic",
    metavar="NAME",
    help="Message sizes: thesis (nominal table), gridpeer (real MQTT/TCP/IP), or all.",
)
_SECONDS = typer.Option(
    10.0,
    "--seconds",
    min=0.1,
    max=3600,
    metavar="S",
    help="Simulated seconds of traffic per point.",
)
_SEED = typer.Option(1, "--seed", min=1, metavar="N", help="Random seed (same seed, same results).")
_RADIUS = typer.Option(
    25.0,
    "--radius",
    min=1.0,
    metavar="M",
    help="Radius of the default village (houses on a circle around the coordinator), m.",
)
_LAYOUT = typer.Option(
    None,
    "--layout",
    metavar="FILE",
    show_default="a circle of --radius",
    help="CSV 'name,x_m,y_m': coordinator row first, then 2-7 houses (m).",
)
_SPACING = typer.Option(
    None,
    "--spacing",
    min=1.0,
    max=10_000.0,
    metavar="M",
    show_default="the circle of --radius",
    help="Rural road layout: houses along a road this far apart, either side of the "
    "community node (m; e.g. 30-300; docs use 60), an access point at the community "
    "node, free-space propagation.",
)
_TOPOLOGY = typer.Option(
    None,
    "--topology",
    metavar="NAME",
    show_default="ap with --spacing, else adhoc",
    help="Wi-Fi network: adhoc (every node one hop from every other) or ap (an access "
    "point at the community node relays house-to-house frames).",
)
_RATE = typer.Option(
    "ideal",
    "--rate-control",
    metavar="NAME",
    help="Wi-Fi rate adaptation: ideal (ns-3 IdealWifiManager) or minstrel (Minstrel/HT).",
)
_EXPONENT = typer.Option(
    None,
    "--exponent",
    min=1.5,
    max=6.0,
    metavar="N",
    show_default="2 on the road, 3 otherwise",
    help="Log-distance path-loss exponent (2 = free space, Friis).",
)
_PATTERN = typer.Option(
    "smooth",
    "--pattern",
    metavar="LIST",
    help="When flows send: smooth (spread over each period, the thesis's constant rates), "
    "burst (all agents at once, as markets do at window opening and gate closure), or all.",
)
_BURST_MS = typer.Option(
    1.0, "--burst-ms", min=0.001, max=1000.0, metavar="MS", help="Spread of a burst, ms."
)
_THESIS = typer.Option(
    False,
    "--thesis",
    help="The thesis's NAN-trading scenarios (both markets, every technology, 2-7 "
    "prosumers, thesis traffic, smooth and burst) and thesis.md comparing them with "
    "the published results.",
)
_WORKERS = typer.Option(2, "--workers", "-j", min=1, metavar="N", help="Parallel ns-3 processes.")
_OUT = typer.Option(
    Path("netsim-results"),
    "--out",
    "-o",
    metavar="DIR",
    help="Output folder (created): results.csv, results.md, PNG plots.",
)
_ALL = typer.Option(False, "--all", help="The whole study: ignore the selection options.")


class NetworkOptions(TypedDict):
    """The Wi-Fi network options passed to :func:`~gridpeer.netsim.study.study_grid`."""

    spacing_m: float | None
    topology: Topology
    rate_control: RateControl
    exponent: float | None


def ns3_available() -> bool:
    """True if ns-3's Python bindings (PyPI ``ns3``) are importable, without importing them."""
    return importlib.util.find_spec("ns") is not None


def parse_choices(text: str, enum: type[E]) -> tuple[E, ...]:
    """``"a,b"`` or ``"all"`` → enum members; ``ValueError`` naming the valid choices."""
    if text.strip() == "all":
        return tuple(enum)
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            out.append(enum(part))
        except ValueError:
            valid = ", ".join(m.value for m in enum)
            raise ValueError(f"unknown value {part!r}; choose from {valid} or all") from None
    if not out:
        raise ValueError("empty selection")
    return tuple(dict.fromkeys(out))


def register(app: typer.Typer) -> None:
    """Add the ``netsim`` command to ``app``."""

    @app.command("netsim", cls=FlagHelpCommand)
    def netsim(
        scenario: str = _SCENARIO,
        tech: str = _TECH,
        peers: str = _PEERS,
        market: str = _MARKET,
        traffic: str = _TRAFFIC,
        seconds: float = _SECONDS,
        seed: int = _SEED,
        radius: float = _RADIUS,
        layout: Path | None = _LAYOUT,
        spacing: float | None = _SPACING,
        topology: str | None = _TOPOLOGY,
        rate_control: str = _RATE,
        exponent: float | None = _EXPONENT,
        pattern: str = _PATTERN,
        burst_ms: float = _BURST_MS,
        thesis: bool = _THESIS,
        workers: int = _WORKERS,
        out: Path = _OUT,
        all_: bool = _ALL,
    ) -> None:
        """Simulate the home- and neighbourhood-area networks of a microgrid in ns-3.

        Mean one-way delay, jitter, delivery ratio per technology and prosumer count.

        Writes results.csv, results.md and PNG plots into --out (and thesis.md with
        --thesis).
        """
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        from gridpeer.core.extras import require

        require("netsim", "gridpeer netsim")

        from gridpeer.netsim.layout import load_layout
        from gridpeer.netsim.messages import Traffic
        from gridpeer.netsim.report import write_report
        from gridpeer.netsim.results import RunResult
        from gridpeer.netsim.scenario import Market, Pattern, ScenarioKind
        from gridpeer.netsim.study import parse_peers, study_grid
        from gridpeer.netsim.technology import Tech
        from gridpeer.netsim.thesis import thesis_markdown

        console = Console(stderr=True)
        try:
            if layout is not None and spacing is not None:
                raise ValueError("give --layout or --spacing, not both")
            patterns = parse_choices(pattern, Pattern)
            network = NetworkOptions(
                spacing_m=spacing,
                topology=Topology(topology)
                if topology is not None
                else (Topology.AP if spacing is not None else Topology.ADHOC),
                rate_control=RateControl(rate_control),
                exponent=exponent,
            )
            if thesis:
                grid = study_grid(
                    (ScenarioKind.NAN_TRADING,),
                    traffics=(Traffic.THESIS,),
                    seconds=seconds,
                    seed=seed,
                    patterns=tuple(Pattern),
                    burst_ms=burst_ms,
                    **network,
                )
            elif all_:
                grid = study_grid(
                    seconds=seconds, seed=seed, patterns=patterns, burst_ms=burst_ms, **network
                )
            else:
                grid = study_grid(
                    parse_choices(scenario, ScenarioKind),
                    parse_choices(tech, Tech),
                    parse_peers(peers),
                    parse_choices(market, Market),
                    parse_choices(traffic, Traffic),
                    seconds,
                    seed,
                    patterns,
                    burst_ms,
                    **network,
                )
            village = load_layout(layout) if layout is not None else None
        except (ValueError, OSError) as exc:
            raise typer.BadParameter(str(exc)) from exc
        if not ns3_available():
            console.print(INSTALL_HINT, markup=False, highlight=False)
            raise typer.Exit(2)

        from gridpeer.netsim.worker import run_points

        t0 = time.perf_counter()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("starting ns-3 (~10 s)", total=len(grid))
            advance: Callable[[RunResult], None] = lambda r: bar.update(  # noqa: E731
                task, advance=1, description=r.config.label
            )
            results = run_points(
                grid, layout=village, radius_m=radius, workers=workers, on_result=advance
            )
        paths = write_report(results, out)
        if thesis:
            (out / "thesis.md").write_text(thesis_markdown(results))
            paths.append(out / "thesis.md")
        console.print(
            f"{len(results)} runs in {time.perf_counter() - t0:.1f} s → {out}/: "
            + ", ".join(p.name for p in paths)
        )
