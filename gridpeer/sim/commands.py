"""``gridpeer simulate`` and ``gridpeer compare``: community studies from the command line."""

from __future__ import annotations

import dataclasses
import time
from enum import StrEnum
from pathlib import Path

import typer

from gridpeer.core.help import FlagHelpCommand


class Market(StrEnum):
    """Market designs (thesis §3.4 and its future work)."""

    ORDER_BOOK = "order-book"
    UNIFORM = "uniform"
    PAY_AS_BID = "pay-as-bid"
    CDA = "cda"
    MID_MARKET = "mid-market"
    BILL_SHARING = "bill-sharing"
    SDR = "sdr"


class Settlement(StrEnum):
    """Where trades are settled."""

    NONE = "none"
    REVM = "revm"
    CHAIN = "chain"


ALL_MARKETS = "order-book,uniform,pay-as-bid,cda,mid-market,bill-sharing,sdr"
_FROM_SCENARIO = "from the scenario"


_SCENARIO = typer.Option(
    "thesis-lab-5",
    "--scenario",
    "-s",
    metavar="NAME|FILE",
    help="A preset (thesis-lab-5, rural-7, village-100, town-10k, flex-100) or the path of a "
    "scenario TOML file (docs/sim.md).",
)
_HOUSES = typer.Option(
    None,
    "--houses",
    "-n",
    min=1,
    metavar="N",
    show_default=_FROM_SCENARIO,
    help="Number of houses; the scenario's household shares are kept.",
)
_DAYS = typer.Option(
    None,
    "--days",
    "-d",
    min=1,
    metavar="DAYS",
    show_default=_FROM_SCENARIO,
    help="Days to simulate, from the scenario's start date (UTC days of 96 15-minute slots).",
)
_SEED = typer.Option(
    None,
    "--seed",
    metavar="N",
    show_default=_FROM_SCENARIO,
    help="Random seed of households, weather, loads and forecast errors (same seed, same report).",
)

_MARKET = typer.Option(
    None,
    "--market",
    "-m",
    metavar="DESIGN",
    show_default=_FROM_SCENARIO,
    help="Market design: order-book (peers pick offers), uniform (one clearing price), "
    "pay-as-bid, cda (continuous double auction), mid-market, bill-sharing, sdr "
    "(supply-demand ratio).",
)
_SETTLEMENT = typer.Option(
    Settlement.NONE,
    "--settlement",
    metavar="none|revm|chain",
    help="none: engine accounting only; revm: every trade on the real contract "
    "bytecode in-process; chain: on an embedded chain node (slow).",
)
_MARKETS = typer.Option(
    "all",
    "--markets",
    metavar="LIST",
    help="Comma-separated market designs to compare, or all: order-book, uniform, "
    "pay-as-bid, cda, mid-market, bill-sharing, sdr.",
)
_FORECASTS = typer.Option(
    None,
    "--forecast",
    "-f",
    metavar="LIST",
    show_default=_FROM_SCENARIO,
    help="Comma-separated agent forecasts to compare the designs under (a grid): "
    "perfect, noisy, persistence, clear-sky, sarima, gbm. With more than one, each "
    "forecast gets a sub-folder and forecast_grid.csv/.md sums them up.",
)
_OUT_SIM = typer.Option(
    Path("sim-report"),
    "--out",
    "-o",
    metavar="DIR",
    help="Report folder (created): KPI CSVs, series.csv, summary.md/.html, PNG plots.",
)
_OUT_CMP = typer.Option(
    Path("sim-compare"),
    "--out",
    "-o",
    metavar="DIR",
    help="Report folder (created): compare.csv/.md/.html, plots, one sub-folder per design.",
)


def _load(scenario: str):  # type: ignore[no-untyped-def]
    from gridpeer.sim.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(scenario)
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _run(config, console, flag, label: str, settlement: str, out: Path):  # type: ignore[no-untyped-def]
    from gridpeer.sim.engine import Simulation
    from gridpeer.sim.progress import make_progress, rate_text
    from gridpeer.sim.settle import SettlementUnavailable, make_settler

    try:
        sim = Simulation(config)
    except ValueError as exc:
        from gridpeer.profiles.readers import ProfileFileError  # pandas: only on error

        if not isinstance(exc, ProfileFileError):
            raise
        typer.echo(f"error: household data file: {exc}", err=True)
        raise typer.Exit(2) from None
    for note in sim.warnings:
        console.print(f"[yellow]warning:[/yellow] {note}", highlight=False)
    try:
        settler = make_settler(settlement, config)
    except SettlementUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    sim.settle = settler.on_slot if settler else None
    total = config.days * 96
    houses = config.houses
    t0 = time.perf_counter()
    with make_progress(console) as progress:
        task = progress.add_task(label, total=total, rate="")

        def on_slot(done: int) -> None:
            if done % 8 == 0 or done == total:
                rate = done * houses / max(time.perf_counter() - t0, 1e-9)
                progress.update(task, completed=done, rate=rate_text(rate))

        result = sim.run(on_slot=on_slot, should_stop=flag)
    if settler is not None:
        settler.finish(result, console)
        (out / "settlement.csv").parent.mkdir(parents=True, exist_ok=True)
        (out / "settlement.csv").write_text(settler.summary_csv(), encoding="utf-8")
    return result


def register(app: typer.Typer) -> None:
    """Add ``simulate``, ``compare`` and ``sweep`` to the CLI."""
    register_sweep(app)

    @app.command(cls=FlagHelpCommand)
    def simulate(
        scenario: str = _SCENARIO,
        houses: int | None = _HOUSES,
        days: int | None = _DAYS,
        market: Market | None = _MARKET,
        settlement: Settlement = _SETTLEMENT,
        seed: int | None = _SEED,
        out: Path = _OUT_SIM,
    ) -> None:
        """Simulate a community and write a report: KPI CSVs, series.csv, summary.md/.html
        with a per-house table, PNG plots."""
        from rich.console import Console

        from gridpeer.core.extras import require

        require("sim", "gridpeer simulate")

        from gridpeer.sim.engine import make_config
        from gridpeer.sim.progress import stop_on_ctrl_c
        from gridpeer.sim.report import write_report

        sc = _load(scenario)
        try:
            cfg = make_config(sc, None if market is None else market.value, houses, days, seed)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        console = Console(stderr=True)
        console.print(
            f"[bold]{sc.name}[/bold]: {cfg.houses} houses, {cfg.days} day(s), "
            f"market {cfg.mechanism}, settlement {settlement}, seed {cfg.seed}"
        )
        with stop_on_ctrl_c(console) as flag:
            result = _run(cfg, console, flag, cfg.mechanism, settlement.value, out)
        write_report(result, out)
        state = "interrupted — partial" if result.interrupted else "done"
        console.print(
            f"{state}: {result.slots_done} slots in {result.elapsed_s:.1f} s; "
            f"report in {out}/summary.html"
        )

    @app.command(cls=FlagHelpCommand)
    def compare(
        scenario: str = _SCENARIO,
        houses: int | None = _HOUSES,
        days: int | None = _DAYS,
        markets: str = _MARKETS,
        seed: int | None = _SEED,
        forecast: str | None = _FORECASTS,
        out: Path = _OUT_CMP,
    ) -> None:
        """Run several market designs on the same households, weather and forecasts, side
        by side, with one sentence per KPI on whether the designs differ and why."""
        from rich.console import Console

        from gridpeer.core.extras import require

        require("sim", "gridpeer compare")

        from gridpeer.sim.engine import make_config
        from gridpeer.sim.progress import stop_on_ctrl_c
        from gridpeer.sim.report import (
            comparison_sentences,
            write_comparison,
            write_forecast_grid,
            write_report,
        )
        from gridpeer.sim.scenario import Strategy

        sc = _load(scenario)
        forecasts = [f.strip() for f in (forecast or sc.strategy.forecast).split(",") if f.strip()]
        allowed = Strategy.model_fields["forecast"].annotation.__args__  # type: ignore[union-attr]
        bad = [f for f in forecasts if f not in allowed]
        if bad or not forecasts or len(set(forecasts)) != len(forecasts):
            raise typer.BadParameter(
                f"give distinct forecasts among {', '.join(allowed)}", param_hint="--forecast"
            )
        if markets.strip() == "all":
            markets = ALL_MARKETS
        names = [m.strip() for m in markets.split(",") if m.strip()]
        if not names:
            raise typer.BadParameter("give at least one market", param_hint="--markets")
        try:
            configs = [make_config(sc, m, houses, days, seed) for m in names]
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--markets") from None
        if len(set(names)) != len(names):
            raise typer.BadParameter("markets must be distinct", param_hint="--markets")
        console = Console(stderr=True)
        c0 = configs[0]
        console.print(
            f"[bold]{sc.name}[/bold]: {c0.houses} houses, {c0.days} day(s), seed {c0.seed}; "
            f"comparing {', '.join(names)} under forecast {', '.join(forecasts)}"
        )
        grid = []
        with stop_on_ctrl_c(console) as flag:
            for fc in forecasts:
                strategy = sc.strategy.model_copy(update={"forecast": fc})
                where = out / fc if len(forecasts) > 1 else out
                results = []
                for i, base in enumerate(configs):
                    cfg = dataclasses.replace(
                        base, scenario=base.scenario.model_copy(update={"strategy": strategy})
                    )
                    label = f"{i + 1}/{len(configs)} {cfg.mechanism} ({fc})"
                    results.append(_run(cfg, console, flag, label, "none", where / cfg.mechanism))
                    write_report(results[-1], where / cfg.mechanism)
                    if flag():
                        break
                write_comparison(results, where)
                grid.append((fc, results))
                if len(results) > 1:
                    console.print(f"[bold]Do the designs differ? ({fc} forecast)[/bold]")
                    for sentence in comparison_sentences(results):
                        console.print(f"- {sentence}", highlight=False)
                if flag():
                    break
        if len(forecasts) > 1:
            write_forecast_grid(grid, out)
            console.print(f"designs x forecasts in {out}/forecast_grid.md")
        else:
            console.print(f"comparison of {len(grid[0][1])} design(s) in {out}/compare.html")


_STUDY = typer.Argument(..., metavar="STUDY.toml", help="The study file (docs/grid.md).")
_OUT_SWEEP = typer.Option(
    Path("sweep"),
    "--out",
    "-o",
    metavar="DIR",
    help="Results folder (created): runs/*.json, results.parquet/.csv, summary.csv "
    "(95 % CIs across seeds), sweep_*.png. Runs already in it are not re-run.",
)
_SCHEDULER = typer.Option(
    None,
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="Run on an existing Dask cluster; default: a LocalCluster on this machine.",
)
_WORKERS = typer.Option(
    2, "--workers", "-w", min=1, metavar="N", help="LocalCluster worker processes."
)


def register_sweep(app: typer.Typer) -> None:
    """Add ``sweep`` to the CLI."""

    @app.command(cls=FlagHelpCommand)
    def sweep(
        study: Path = _STUDY,
        out: Path = _OUT_SWEEP,
        scheduler: str | None = _SCHEDULER,
        workers: int = _WORKERS,
    ) -> None:
        """Run a study's grid of scenarios (designs x seeds x parameters) on Dask and
        write one results table, confidence intervals across seeds and plots."""
        from rich.console import Console

        from gridpeer.core.extras import require

        require("sim", "gridpeer sweep")
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            typer.echo(
                "error: gridpeer sweep needs Dask: pip install 'dask[distributed]' pyarrow "
                "(both in gridpeer[sim])",
                err=True,
            )
            raise typer.Exit(2)

        from gridpeer.sim.study import StudyError, load_study
        from gridpeer.sim.sweep import done_runs, make_client, run_sweep

        try:
            st = load_study(study)
        except StudyError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        console = Console(stderr=True)
        have = done_runs(out) & {r.run_id for r in st.runs}
        console.print(
            f"[bold]{st.name}[/bold]: {len(st.runs)} runs ({len(have)} already done) on "
            f"{scheduler or f'a LocalCluster of {workers} workers'}"
        )
        everything_done = len(have) == len(st.runs)
        client, cluster = (None, None) if everything_done else make_client(scheduler, workers)
        try:

            def on_result(row: dict[str, object], done: int, total: int) -> None:
                console.print(
                    f"{done}/{total} {row['design']} seed {row['seed']} "
                    f"({float(row['elapsed_s']):.1f} s)",  # type: ignore[arg-type]
                    highlight=False,
                )

            outcome = run_sweep(st, out, client, on_result)
        finally:
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
        console.print(
            f"done: {outcome.computed} run(s) computed, {outcome.skipped} skipped, "
            f"{outcome.elapsed_s:.1f} s; results in {out}/results.parquet and summary.csv"
        )
