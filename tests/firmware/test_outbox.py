"""The offline buffer (gridpeer_node/outbox.py): a bounded FIFO in RAM spilling to flash
segments; under any sequence of pushes and sends it keeps FIFO order and accounts for
every reading as sent or dropped."""

from __future__ import annotations

import sys
import tempfile
from collections import deque
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "firmware"))

from gridpeer_node.outbox import Outbox

# push n readings (> 0) or send n of them (< 0)
Ops = st.lists(st.integers(-20, 30).filter(bool), max_size=30)


@given(ops=Ops, ram_max=st.integers(1, 12), seg=st.integers(1, 12), seg_max=st.integers(1, 4))
@settings(max_examples=150, deadline=None)
def test_fifo_bounded_oldest_dropped_and_counted(
    ops: list[int], ram_max: int, seg: int, seg_max: int
) -> None:
    seg = min(seg, ram_max)
    with tempfile.TemporaryDirectory() as tmp:
        box = Outbox(ram_max=ram_max, flash_dir=tmp + "/q", seg_len=seg, seg_max=seg_max)
        sent: list[str] = []
        pushed = 0
        for op in ops:
            for _ in range(op):
                box.push("gridpeer/lab/h1/meter/reading", f'{{"ts": {pushed}}}')
                pushed += 1
            for _ in range(-op):
                item = box.peek()
                if item is None:
                    break
                sent.append(item[1])
                box.pop()
        rest = []
        while (item := box.peek()) is not None:
            rest.append(item[1])
            box.pop()
        got = [int(p[7:-1]) for p in sent + rest]
        # oldest first, nothing duplicated, every missing reading counted as dropped
        assert got == sorted(set(got))
        assert len(got) + box.dropped == pushed
        # only whole oldest segments are ever dropped: what is held never exceeds the bound
        assert box.dropped == 0 or len(rest) <= ram_max + seg * seg_max
        assert list(Path(tmp, "q").iterdir()) == []  # every segment removed once sent


def test_ram_only_drops_oldest() -> None:
    box = Outbox(ram_max=3)
    ref: deque[str] = deque(maxlen=3)
    for k in range(10):
        box.push("t", str(k))
        ref.append(str(k))
    assert box.dropped == 7 and len(box) == 3
    assert [box.peek(), box.pop(), box.peek()][0] == ("t", ref[0])


def test_segments_survive_a_reboot(tmp_path: Path) -> None:
    box = Outbox(ram_max=4, flash_dir=str(tmp_path / "q"), seg_len=4, seg_max=8)
    for k in range(14):
        box.push("t", str(k))
    assert box.spilled == 12 and len(box) == 14
    again = Outbox(ram_max=4, flash_dir=str(tmp_path / "q"), seg_len=4, seg_max=8)
    got = []
    while (item := again.peek()) is not None:
        got.append(int(item[1]))
        again.pop()
    assert got == list(range(12))  # what was on flash; RAM (12, 13) died with the reboot
