"""Live scale benchmark (ingest part): ``--houses`` houses' readings through a real
Mosquitto into a real PostgreSQL by ``--hosts`` ``gridpeer agents`` processes (shared
subscriptions, simulated meters), each house's meter, PV and battery publishing one
reading every 10 model seconds at ``--speed`` model seconds per wall second.

    python bench/live_scale.py [--houses 1000] [--hosts 2] [--speed 10] [--seconds 30] [--json]

Last line (``--json``): ``{"houses", "readings_per_s", "published", "lost", "threads_max",
"rss_mb_total", "trades", "oracle_p99_ms", "web_p99_ms", "web_static_p99_ms"}``; the
trading, oracle and web figures are ``null``: this bench does not run them yet (issue 17's
full target line). Targets: lost = 0, threads <= 64 per process, everything <= 4 GiB.
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
    ap.add_argument("--hosts", type=int, default=2)
    ap.add_argument("--speed", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--group-size", type=int, default=100, help="houses per MQTT session")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

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
    result = {
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
    print(json.dumps(result) if args.json else result)


if __name__ == "__main__":
    main()
