"""kill -9 of the ``gridpeer oracle`` process between its ``confirmBatch`` being mined and
the receipt being recorded (real Mosquitto, anvil, delivery agents as child processes):
after a restart every trade of the batch is confirmed exactly once, and the oracle's state
held the batch's tx hash from before it was sent."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gridpeer.chain.events import DeliveryConfirmed
from tests.e2e.rig import Community, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.anvil]
GRACE_S = 16  # contract grace; the oracle's deadline is 8 s after a window


def rows(com: Community) -> dict[int, tuple[str, str | None]]:
    """Trade id → (state, confirm tx) from the oracle's state file."""
    path = com.tmp / "oracle.db"
    if not path.exists():
        return {}
    try:
        with sqlite3.connect(path) as c:
            q = "SELECT trade_id, state, confirm_tx FROM oracle_trades"
            return {int(r[0]): (str(r[1]), r[2]) for r in c.execute(q)}
    except sqlite3.OperationalError:
        return {}


def test_kill9_after_the_batch_was_mined_confirms_each_trade_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "crashed.txt"
    monkeypatch.setenv("CRASH_MARKER", str(marker))
    com = Community(tmp_path, 8, grace_s=GRACE_S)
    com.oracle.module = "tests.oracle.crashing_oracle"
    try:
        com.start()
        for silent in ("h2", "h4", "h6", "h8"):  # buyers silent: all decided at the deadline
            com.agents[silent].stop()
        t0 = com.now()
        w = (t0 + 6, t0 + 16)
        trades = [com.trade(f"h{i}", f"h{i + 1}", 10, *w) for i in (1, 3, 5, 7)]
        proc = com.oracle.proc
        assert proc is not None
        wait_for(lambda: proc.poll() is not None, 90, "the oracle killed after its batch")
        assert proc.returncode == -9
        tx = marker.read_text()
        before = rows(com)
        assert {before[t] for t in trades} == {("confirming", tx)}  # recorded before sending
        assert set(com.confirmations()) == set(trades)  # mined, one event per trade
        com.oracle.module = "gridpeer.oracle"
        com.oracle.start()  # the restart
        wait_for(
            lambda: all(rows(com).get(t, ("",))[0] == "confirmed" for t in trades),
            60,
            "the restarted oracle reconciles the batch",
        )
        conf = com.confirmations()  # asserts each trade confirmed exactly once
        assert set(conf) == set(trades) and all(conf[t][0] == 10 for t in trades)
        confirmed = [e for e in com.market.events(0) if isinstance(e, DeliveryConfirmed)]
        assert {"0x" + e.meta.tx_hash.hex() for e in confirmed} == {tx}
        assert com.market.balance() == sum(com.credit(h) for h in com.houses)
    finally:
        com.stop()
