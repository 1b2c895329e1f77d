"""Live scale benchmark (issue 17): ``--houses`` houses live on anvil + Mosquitto +
PostgreSQL, with trading, deliveries and the web under load.

Default (full) mode: ``gridpeer demo``'s own services (its composition, in this process)
with ``--houses`` houses, PostgreSQL as the store, Mosquitto and anvil (the demo starts
both beyond 50 houses); each house's meter, PV and battery publish one reading every 10
wall seconds; the clock runs ``--speed``× from 12:30 in the demo's time zone, so the
houses' trading agents bid in the last half hour of the first session and the trades are
delivered in the 13:00-14:00 window, four 15-minute slots, then confirmed by the oracle.
While the houses trade and deliver, a second process loads the web app at a fixed
``--rate`` (open loop, latency from the scheduled send): first a static file, then the
read endpoints (overview, a house's latest readings and day, the offers). The run stops
once every trade is settled (or at ``--hours`` model hours). Then today's
``bench/web_api.py`` runs its 50-house demo at the same rate, for comparison.

    python bench/live_scale.py [--houses 1000] [--speed 60] [--rate 100] [--json]

Last line (``--json``): ``{"houses", "readings_per_s", "published", "lost", "trades",
"settled", "oracle_p99_ms", "web_p99_ms", "web_static_p99_ms", "threads_max",
"rss_mb_total", "web_api_50"}``. ``oracle_p99_ms`` is the p99 of the oracle's passes
(follow the chain, publish due commands, collect results, confirm in batches), wall ms;
``threads_max`` the most threads of any one process; ``rss_mb_total`` the most resident
memory of all processes together (the demo, its web process, Mosquitto, anvil,
PostgreSQL). Targets: lost = 0, every trade settled, oracle p99 <= 250 ms, web p99 <= 100
ms and <= 3x the static p99, <= 4 GiB, <= 64 threads per process.

``--ingest-only``: the earlier ingest part alone: readings through Mosquitto into
PostgreSQL by ``--hosts`` ``gridpeer agents`` processes (shared subscriptions, simulated
meters), one reading per device every 10 model seconds at ``--speed`` (default there: 10).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

COMMUNITY = "live"
PERIOD_MODEL_S = 10.0


def _body(dev: str, ts: str, k: int) -> dict[str, Any]:
    if dev == "meter":
        return {"ts": ts, "v": 230.0, "i": 2.0, "p": 460.0, "e_wh": k, "p_grid": 120.0}
    if dev == "bess":
        return {"ts": ts, "v": 51.2, "i": -3.0, "p": -153.6, "soc": 0.5}
    return {"ts": ts, "v": 230.0, "i": 2.0, "p": 460.0}


def _publisher(
    port: int,
    houses: list[str],
    start_ms: int,
    wall0: float,
    speed: float,
    seconds: float,
    out: Any,
) -> None:
    """Publish every house's three readings each 10 model s, dated on the model clock."""
    from gridpeer.core.mqtt import QOS, BrokerAddress, MqttClient
    from gridpeer.telemetry.sensor import encode, iso_ms

    client = MqttClient("live-publisher", BrokerAddress("127.0.0.1", port), clean_session=True)
    client.start()
    sent, k, infos = 0, 0, []
    period = PERIOD_MODEL_S / speed
    while time.time() < wall0 + seconds:
        due = wall0 + k * period
        if time.time() < due:
            time.sleep(due - time.time())
        ts = iso_ms(start_ms + int(k * PERIOD_MODEL_S * 1000))
        for h in houses:
            for dev in ("meter", "pv", "bess"):
                payload = encode(_body(dev, ts, k))
                infos.append(
                    client.paho.publish(f"gridpeer/{COMMUNITY}/{h}/{dev}/reading", payload, qos=QOS)
                )
                sent += 1
        k += 1
    for info in infos:
        info.wait_for_publish(60)
    client.stop()
    out.put(sent)


def _proc_stats(pid: int) -> tuple[int, float]:
    """(threads, RSS MB) of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return len(os.listdir(f"/proc/{pid}/task")), rss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--houses", type=int, default=1000)
    ap.add_argument("--speed", type=float, default=None, help="model s per wall s (60; 10)")
    ap.add_argument("--rate", type=float, default=100.0, help="web load, requests/s")
    ap.add_argument("--web-seconds", type=float, default=30.0, help="read-load phase, wall s")
    ap.add_argument("--hours", type=float, default=3.0, help="longest run, model hours")
    ap.add_argument("--no-web-api", action="store_true", help="skip the 50-house web_api run")
    ap.add_argument("--ingest-only", action="store_true", help="the ingest part alone")
    ap.add_argument("--hosts", type=int, default=2, help="--ingest-only: agents processes")
    ap.add_argument("--seconds", type=float, default=30.0, help="--ingest-only: wall s")
    ap.add_argument("--group-size", type=int, default=100, help="houses per MQTT session")
    ap.add_argument(
        "--houses-nice",
        type=int,
        default=0,
        help="nice value of the demo's own process (the houses' stand-in, which in a "
        "deployment runs at the houses) once it runs; the server's processes stay at 0",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.ingest_only:
        args.speed = args.speed or 10.0
        result = _ingest(args)
    else:
        args.speed = args.speed or 60.0
        from live_full import full

        result = full(args)
    print(json.dumps(result) if args.json else result)


def _ingest(args: argparse.Namespace) -> dict[str, Any]:
    from gridpeer.store.factory import open_store
    from gridpeer.telemetry.broker import MosquittoBroker
    from tests.services.ports import free_port
    from tests.services.postgres import PgServer

    tmp = Path(tempfile.mkdtemp(prefix="gp-live-"))
    broker = MosquittoBroker(free_port(), tmp / "mosquitto")
    broker.start()
    pg = PgServer()
    import psycopg

    with psycopg.connect(f"{pg.url}/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE live")
    url = f"{pg.url}/live"
    houses = [f"h{k}" for k in range(1, args.houses + 1)]
    config = tmp / "community.toml"
    config.write_text(
        f'community = "{COMMUNITY}"\nstore_url = "{url}"\ndata_dir = "{tmp}"\n'
        f"[mqtt]\nembedded = false\nport = {broker.port}\n"
        + "".join(f'[[accounts]]\nid = "{h}"\n' for h in houses)
    )
    start = datetime.now(UTC).replace(microsecond=0)
    wall0 = time.time() + 60.0  # the model clock starts once everything is up
    procs = []
    shard = -(-len(houses) // args.hosts)
    for k in range(args.hosts):
        mine = houses[k * shard : (k + 1) * shard]
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gridpeer.cli",
                    "agents",
                    "--config",
                    str(config),
                    "--houses",
                    f"{mine[0]}-{mine[-1]}",
                    "--share",
                    "ingest",
                    "--member",
                    str(k),
                    "--simulated-meter",
                    "--group-size",
                    str(args.group_size),
                    "--speed",
                    str(args.speed),
                    "--clock-start",
                    start.isoformat(),
                    "--clock-wall0",
                    str(wall0),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        )
    for p in procs:
        assert p.stdout is not None and "ready" in p.stdout.readline()
    if time.time() > wall0:
        raise SystemExit("the agents took over 60 s to start: the model clocks are off")
    q: Any = mp.Queue()
    pub = mp.Process(
        target=_publisher,
        args=(
            broker.port,
            houses,
            int(start.timestamp() * 1000),
            wall0,
            args.speed,
            args.seconds,
            q,
        ),
    )
    pub.start()
    threads_max, rss_max = 0, 0.0
    while pub.is_alive():
        stats = [_proc_stats(p.pid) for p in procs]
        threads_max = max(threads_max, *(t for t, _ in stats))
        rss_max = max(rss_max, sum(r for _, r in stats))
        time.sleep(1.0)
    published = q.get()
    store = open_store(url)
    deadline = time.time() + 60
    while (stored := store.count()) < published and time.time() < deadline:
        time.sleep(0.5)
    elapsed = time.time() - wall0
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(60)
    stored = store.count()
    store.close()
    pg.remove()
    broker.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "houses": args.houses,
        "readings_per_s": round(stored / elapsed, 1),
        "published": published,
        "lost": published - stored,
        "threads_max": threads_max,
        "rss_mb_total": round(rss_max, 1),
        "trades": None,
        "oracle_p99_ms": None,
        "web_p99_ms": None,
        "web_static_p99_ms": None,
    }


if __name__ == "__main__":
    main()
