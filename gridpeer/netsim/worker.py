"""Process pool that runs study points in ns-3, deterministically and in parallel.

One fresh process (``python -m gridpeer.netsim.worker``) imports ns-3 once (~6 s) and
runs a tiny warm-up simulation so cppyy has compiled everything, then forks the pool's
workers; every study point runs in a child ``fork``-ed from a worker, i.e. from that
prepared state. ns-3 keeps global state between simulations in one process
(random-stream counters, address allocators); forking gives every run the same
pristine state, so a point's result depends only on its configuration and seed, never
on which worker ran it or in which order.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from gridpeer.netsim.layout import Layout
from gridpeer.netsim.messages import Traffic
from gridpeer.netsim.radio import RateControl, Topology
from gridpeer.netsim.results import FlowTotals, RunResult
from gridpeer.netsim.scenario import Market, Pattern, RunConfig, ScenarioKind, build_scenario
from gridpeer.netsim.technology import TECH_SPECS, Tech

Task = tuple[int, RunConfig, Layout | None, float]


class NetsimError(RuntimeError):
    """A simulation failed inside ns-3."""


def _warm_up() -> None:
    """Import ns-3 and compile the code paths a study uses (Wi-Fi and Ethernet)."""
    # cling prints two harmless "Failed to materialize symbols" lines on import
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        from gridpeer.netsim import ns3run
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)

    for tech in (Tech.WIFI_G, Tech.ETH_100M):
        ns3run.simulate(build_scenario(RunConfig(ScenarioKind.HAN, tech, seconds=0.05)))
    # the access point's and stations' MACs (else every forked child compiles them, ~1 s)
    ap = RunConfig(ScenarioKind.HAN, Tech.WIFI_N_5, seconds=0.05, topology=Topology.AP)
    ns3run.simulate(build_scenario(ap))


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _run_forked(task: Task) -> tuple[int, dict[str, Any]]:
    """Run one point in a forked child; return (index, result dict or {'error': ...})."""
    from gridpeer.netsim import ns3run

    index, config, layout, radius_m = task
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: simulate, write JSON, leave without running any cleanup
        code = 0
        try:
            os.close(rfd)
            result = ns3run.simulate(build_scenario(config, layout, radius_m))
            out = json.dumps(result.to_dict()).encode()
        except BaseException:
            out = json.dumps({"error": traceback.format_exc()}).encode()
            code = 1
        view = memoryview(out)
        while view:
            view = view[os.write(wfd, view) :]
        os._exit(code)
    os.close(wfd)
    try:
        data = _read_all(rfd)
    finally:
        os.close(rfd)
        os.waitpid(pid, 0)
    if not data:
        return index, {"error": f"ns-3 process for {config.label} died without a result"}
    parsed: dict[str, Any] = json.loads(data)
    return index, parsed


def _result(data: dict[str, Any]) -> RunResult:
    c = data["config"]
    config = RunConfig(
        ScenarioKind(c["kind"]),
        Tech(c["tech"]),
        c["peers"],
        Market(c["market"]) if c["market"] else None,
        Traffic(c["traffic"]),
        c["seconds"],
        c["seed"],
        Pattern(c.get("pattern", "smooth")),
        c.get("burst_ms", 1.0),
        c.get("spacing_m"),
        Topology(c.get("topology", "adhoc")),
        RateControl(c.get("rate_control", "ideal")),
        c.get("exponent"),
    )
    return RunResult(config, FlowTotals(**data["totals"]), data["offered_bps"], data["wall_s"])


def estimated_cost(config: RunConfig) -> float:
    """Relative simulation cost: packets sent × nodes hearing each (Wi-Fi) or 1 (Ethernet)."""
    scenario = build_scenario(config)
    packets = sum(f.packets for f in scenario.flows)
    hearers = len(scenario.nodes) if TECH_SPECS[config.tech].wifi else 1
    return float(packets * hearers)


def _send(fd: int, obj: object) -> None:
    """Write one length-prefixed pickle to ``fd``."""
    data = pickle.dumps(obj)
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[os.write(fd, view) :]


def zygote_main(result_fd: int) -> None:
    """Entry of the zygote process: read (tasks, workers) from stdin, stream results.

    Runs as ``python -m gridpeer.netsim.worker FD`` in a fresh interpreter, so nothing
    the caller imported (native extensions, threads) is in the processes that fork.
    """
    tasks, workers = pickle.load(sys.stdin.buffer)
    try:
        _warm_up()
        pool = multiprocessing.get_context("fork").Pool(workers)
        for item in pool.imap_unordered(_run_forked, tasks):
            _send(result_fd, item)
        pool.close()  # let workers exit on their own: SIGTERM makes cppyy dump a backtrace
        pool.join()
    except BaseException:
        _send(result_fd, (-1, {"error": traceback.format_exc()}))
    os.close(result_fd)


def _receive(fh: BinaryIO) -> tuple[int, dict[str, Any]] | None:
    """The next result from the zygote, or None at end of stream."""
    header = fh.read(8)
    if len(header) < 8:
        return None
    item: tuple[int, dict[str, Any]] = pickle.loads(fh.read(int.from_bytes(header, "big")))
    return item


def run_points(
    configs: Iterable[RunConfig],
    *,
    layout: Layout | None = None,
    radius_m: float = 25.0,
    workers: int = 2,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Simulate every configuration in ``workers`` processes; results in input order.

    One fresh process imports ns-3 (once, ~6 s) and forks the workers, which fork a
    child per point. ``on_result`` is called in this process as each point finishes
    (for progress). Raises :class:`NetsimError` with ns-3's traceback if a point fails.
    """
    tasks: list[Task] = [(k, c, layout, radius_m) for k, c in enumerate(configs)]
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if not tasks:
        return []
    # heaviest first, so no worker is left alone with a long run at the end
    order = sorted(tasks, key=lambda t: -estimated_cost(t[1]))
    results: dict[int, RunResult] = {}
    rfd, wfd = os.pipe()
    zygote = subprocess.Popen(
        [sys.executable, "-m", "gridpeer.netsim.worker", str(wfd)],
        stdin=subprocess.PIPE,
        pass_fds=(wfd,),
    )
    os.close(wfd)
    try:
        assert zygote.stdin is not None
        zygote.stdin.write(pickle.dumps((order, min(workers, len(tasks)))))
        zygote.stdin.close()
        with os.fdopen(rfd, "rb") as fh:
            while (item := _receive(fh)) is not None:
                index, data = item
                if "error" in data:
                    where = tasks[index][1].label if index >= 0 else "ns-3 worker"
                    raise NetsimError(f"{where} failed:\n{data['error']}")
                result = _result(data)
                results[index] = result
                if on_result is not None:
                    on_result(result)
        zygote.wait()
    finally:
        if zygote.poll() is None:
            zygote.terminate()
            zygote.wait()
    if len(results) < len(tasks):
        raise NetsimError(f"ns-3 process died (exit code {zygote.returncode})")
    return [results[k] for k in range(len(tasks))]


if __name__ == "__main__":
    zygote_main(int(sys.argv[1]))
