"""The agent's delivery state on disk: a restart mid-window resumes a shared relay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from gridpeer.hems.delivery import DeliveryExecutor, Phase
from gridpeer.hems.delivery_store import DeliveryStore
from gridpeer.telemetry.delivery import Direction
from tests.hems.test_delivery import T0, cmd


def test_a_restart_mid_window_gives_the_same_split_as_no_restart(tmp_path: Path) -> None:
    targets = {1: 500, 2: 300, 3: 200}
    straight = DeliveryExecutor("h1")
    for tid in targets:
        straight.accept(cmd(tid, targets[tid], d="in"))
    store = DeliveryStore(tmp_path / "h1.db")
    crashed = DeliveryExecutor("h1")
    for tid in targets:
        crashed.accept(cmd(tid, targets[tid], d="in"))
        store.save([crashed.tasks[tid]])
    for k in range(61):
        now, dt = T0 + timedelta(minutes=k), 60 if k else 0
        straight.step(now, {Direction.IN: 700.0}, dt)
        if k == 25:  # the agent restarts: only its file survives (minute 24 stored)
            store.close()
            store = DeliveryStore(tmp_path / "h1.db")
            tasks, reported = store.load()
            assert reported == set()
            assert {t.phase for t in tasks} == {Phase.CLOSED}
            crashed = DeliveryExecutor("h1", tasks)
        crashed_changed = crashed.step(now, {Direction.IN: 700.0}, dt)
        store.save(crashed_changed + [t for t in crashed.tasks.values() if t.phase is Phase.CLOSED])
    store.close()
    got = {t: crashed.tasks[t].result().measured_wh for t in targets}
    assert got == {t: straight.tasks[t].result().measured_wh for t in targets}
    assert sum(got.values()) == 700  # 700 W for one hour, split 5:3:2
    assert got == {1: 350, 2: 210, 3: 140}
    assert not crashed.accept(cmd(2, 300, d="in"))  # a repeated command is not run again
