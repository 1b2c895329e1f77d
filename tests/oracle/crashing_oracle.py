"""``python -m tests.oracle.crashing_oracle ARGS…``: ``gridpeer oracle`` (same options) that
kill -9s itself right after its first ``confirmBatch`` was mined, before it records the
receipt; it writes the batch's tx hash to the file named by ``$CRASH_MARKER`` first.
Used by test_batch_kill9.py to crash the real process at exactly that point."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gridpeer.oracle.chain_adapter import MarketChainView
from gridpeer.oracle.commands import main
from gridpeer.oracle.ports import BatchResult

_real = MarketChainView.confirm_batch


def _confirm_then_die(
    self: MarketChainView, deliveries: Sequence[tuple[int, int]], on_signed: Callable[[str], None]
) -> BatchResult:
    result = _real(self, deliveries, on_signed)
    Path(os.environ["CRASH_MARKER"]).write_text(result.tx_hash)
    os.kill(os.getpid(), signal.SIGKILL)
    return result  # not reached


MarketChainView.confirm_batch = _confirm_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])
