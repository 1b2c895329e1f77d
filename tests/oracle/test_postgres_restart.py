"""A real PostgreSQL outage during deliveries: the server the fixture started is stopped
(fast shutdown: connections are cut) in the middle of the windows and started again a
few seconds later; the oracle (state in PostgreSQL, real Mosquitto, in-process agents,
an in-memory chain) resumes by itself, logs the outage once, and every trade is stored
and settled exactly once."""

from __future__ import annotations

import logging
import shlex
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from gridpeer.hems.delivery_power import ConstantPower
from tests.e2e.procs import Mosquitto
from tests.oracle.test_service import Rig, wait_for
from tests.oracle.test_service import broker as broker  # the fixture
from tests.services.postgres import PG_BIN, _as_postgres

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres]


def pg_ctl(*args: str) -> None:
    subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), *args), check=True, capture_output=True)


def outage(server_url: str, down_s: float) -> None:
    """Stop the server (cutting every connection), wait ``down_s``, start it again with
    the same command line."""
    with psycopg.connect(f"{server_url}/postgres") as c:
        data = Path(str(c.execute("SHOW data_directory").fetchone()[0]))  # type: ignore[index]
    argv = shlex.split((data / "postmaster.opts").read_text())[1:]
    i = argv.index("-D")
    opts = shlex.join(argv[:i] + argv[i + 2 :])
    pg_ctl("-D", str(data), "-m", "fast", "-w", "stop")
    time.sleep(down_s)
    pg_ctl("-D", str(data), "-o", opts, "-l", str(data.parent / "pg.log"), "-w", "start")


def test_oracle_resumes_after_a_postgres_restart(
    tmp_path: Path,
    broker: Mosquitto,
    postgres_server: str,
    postgres_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="gridpeer.oracle")
    powers = {h: ConstantPower(out_w=2000.0, in_w=2000.0) for h in ("h1", "h2", "h3", "h4")}
    rig = Rig(tmp_path, broker, powers, state_url=postgres_url)
    try:
        for a in rig.agents.values():
            a.start()
        oracle = rig.start_oracle(lead_s=3600.0)  # every trade commanded at once
        trades = {}
        for i in range(6):  # windows end during the outage (300 model s per wall s)
            ws, we = rig.window(1 + 3 * i, 3)
            seller, buyer = ("h1", "h2") if i % 2 else ("h3", "h4")
            rig.chain.mine([(i + 1, seller, buyer, 40, ws, we)])
            trades[i + 1] = (seller, buyer)
        wait_for(lambda: 1 in rig.chain.settled, timeout=60)
        outage(postgres_server, down_s=3.0)  # results of trades 2-6 arrive meanwhile
        wait_for(lambda: len(rig.chain.settled) == len(trades), timeout=120)
        # the state records a confirmation once its transaction's receipt is back
        wait_for(
            lambda: all(t.state.value == "confirmed" for t in oracle.state.trades()), timeout=30
        )
        assert rig.chain.settled == {t: 40 for t in trades}
        assert rig.chain.confirm_calls == len(trades)  # none confirmed twice
        for t in oracle.state.trades():
            assert t.state.value == "confirmed" and (t.seller_out_wh, t.buyer_in_wh) == (40, 40)
        assert oracle.state.reconnects >= 1
        msgs = [r.getMessage() for r in caplog.records]
        assert sum("oracle state database unavailable" in m for m in msgs) == 1
        assert sum("oracle state database back after" in m for m in msgs) == 1
    finally:
        rig.stop()
