"""``gridpeer sweep``: a study on a LocalCluster and on a separately started Dask
scheduler and workers; resumable; a killed worker loses no result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

from gridpeer.sim.study import StudyError, parse_study  # noqa: E402
from gridpeer.sim.sweep import make_client, run_sweep  # noqa: E402

STUDY = """
name = "tiny"
scenario = "thesis-lab-5"
designs = ["uniform", "mid-market"]
seeds = 2
days = 1
[parameters]
"strategy.forecast_error" = [0.1, 0.4]
"""


def test_study_grid_and_errors(tmp_path: Path) -> None:
    st = parse_study(STUDY, tmp_path)
    assert len(st.runs) == 2 * 2 * 2
    assert len({r.run_id for r in st.runs}) == 8
    sc = st.scenario_for(st.runs[-1])
    assert sc.strategy.forecast_error == 0.4
    with pytest.raises(StudyError, match="unknown designs"):
        parse_study('scenario = "thesis-lab-5"\ndesigns = ["nope"]\n', tmp_path)
    with pytest.raises(StudyError, match="forecast_error"):
        parse_study(STUDY.replace("0.4]", "99.0]"), tmp_path)
    with pytest.raises(StudyError, match="unknown scenario"):
        parse_study('scenario = "no-such"\n', tmp_path)
    feeder = parse_study(
        'scenario = "thesis-lab-5"\nseeds = 1\n[parameters]\n"feeder.network" = ["cigre-lv"]\n',
        tmp_path,
    )
    assert feeder.scenario_for(feeder.runs[0]).feeder is not None


def test_sweep_on_a_local_cluster_is_resumable(tmp_path: Path) -> None:
    st = parse_study(STUDY, tmp_path)
    client, cluster = make_client(None, 2)
    try:
        assert len(client.scheduler_info()["workers"]) == 2
        first = run_sweep(st, tmp_path, client)
        assert (first.computed, first.skipped) == (8, 0)
        stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
        again = run_sweep(st, tmp_path, client)
        assert (again.computed, again.skipped) == (0, 8)  # nothing re-run
        assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()} == stamps
    finally:
        client.close()
        cluster.close()
    df = pd.read_parquet(tmp_path / "results.parquet")
    csv = pd.read_csv(tmp_path / "results.csv")
    assert len(df) == len(csv) == 8
    assert sorted(df["run_id"]) == sorted(r.run_id for r in st.runs)
    assert set(df["design"]) == {"uniform", "mid-market"}
    assert df["p2p_wh"].sum() > 0
    pd.testing.assert_series_equal(df["saving_pct"], csv["saving_pct"], check_exact=False)
    summary = pd.read_csv(tmp_path / "summary.csv")
    row = summary[
        (summary["kpi"] == "saving_pct")
        & (summary["design"] == "uniform")
        & (summary["param:strategy.forecast_error"] == 0.1)
    ].iloc[0]
    vals = df[(df["design"] == "uniform") & (df["param:strategy.forecast_error"] == 0.1)][
        "saving_pct"
    ]
    assert row["n"] == 2
    assert row["mean"] == pytest.approx(vals.mean())
    # 95 % CI half width with 2 seeds: t(0.975, 1) = 12.706
    assert row["ci95"] == pytest.approx(12.7062047 * vals.std(ddof=1) / 2**0.5, rel=1e-6)
    assert (tmp_path / "sweep_saving_pct.png").stat().st_size > 0


def _wait_for(path: Path, timeout: float = 30.0) -> None:
    t0 = time.monotonic()
    while not path.exists():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.1)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[tuple[str, dict[str, subprocess.Popen[bytes]]]]:
    """A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 (no nanny, so
    killing a worker's process kills the worker)."""
    dask = str(Path(sys.executable).parent / "dask")
    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs: list[subprocess.Popen[bytes]] = []
    workers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs.append(
            subprocess.Popen(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                 "--scheduler-file", str(sched_file)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        _wait_for(sched_file)
        for name in ("w1", "w2"):
            p = subprocess.Popen(
                [dask, "worker", "--scheduler-file", str(sched_file), "--host", "127.0.0.1",
                 "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            procs.append(p)
            workers[name] = p
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        yield address, workers
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_sweep_on_separate_scheduler_and_workers_survives_a_killed_worker(
    tmp_path: Path, dask_cluster: tuple[str, dict[str, subprocess.Popen[bytes]]]
) -> None:
    address, workers = dask_cluster
    st = parse_study(STUDY.replace("days = 1", "days = 1\nhouses = 12"), tmp_path)
    out = tmp_path / "out"
    client, cluster = make_client(address, 0)
    assert cluster is None
    killed: list[str] = []
    try:
        client.wait_for_workers(2, timeout=60)

        def on_result(row: dict[str, object], done: int, total: int) -> None:
            if killed:
                return
            # kill the worker that is busy with a run right now (its run is lost)
            names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
            for addr, keys in client.processing().items():
                if keys and names.get(addr) in workers:
                    name = str(names[addr])
                    workers[name].send_signal(signal.SIGKILL)
                    workers[name].wait(10)
                    killed.append(name)
                    return

        outcome = run_sweep(st, out, client, on_result)
    finally:
        client.close()
    assert killed, "no worker was busy when the first result came in"
    assert outcome.computed == len(st.runs) == 8
    df = pd.read_parquet(out / "results.parquet")
    assert sorted(df["run_id"]) == sorted(r.run_id for r in st.runs)
    assert df["p2p_wh"].notna().all()


def test_sweep_command_errors_and_a_finished_study(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gridpeer.cli import app
    from gridpeer.sim.sweep import write_tables

    runner = CliRunner()
    res = runner.invoke(app, ["sweep", str(tmp_path / "missing.toml")])
    assert res.exit_code == 2 and "study file not found" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text('scenario = "thesis-lab-5"\ndesigns = ["nope"]\n')
    res = runner.invoke(app, ["sweep", str(bad)])
    assert res.exit_code == 2 and "unknown designs" in res.output
    # every run already done: no cluster is started, the tables are written again
    study = tmp_path / "study.toml"
    study.write_text('scenario = "thesis-lab-5"\ndesigns = ["uniform"]\nseeds = 1\ndays = 1\n')
    st = parse_study(study.read_text(), tmp_path)
    from gridpeer.sim.sweep import run_one

    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    row = run_one(st.scenario_for(st.runs[0]), st.runs[0])
    (out / "runs" / f"{row['run_id']}.json").write_text(json.dumps(row))
    res = runner.invoke(app, ["sweep", str(study), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "0 run(s) computed, 1 skipped" in res.output
    assert pd.read_csv(out / "results.csv")["run_id"].tolist() == [row["run_id"]]
    assert write_tables(st, out)[0] == out / "results.parquet"
