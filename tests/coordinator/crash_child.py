"""A coordinator process for crash tests: ``python -m tests.coordinator.crash_child
CONFIG [POINT MARKER]``. With POINT (``before``, ``during`` or ``after`` a batch's
``settleBatch``), the process writes MARKER and freezes there, waiting for the test's
``kill -9``."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from gridpeer.coordinator.process import run
from gridpeer.core.settings import load_settings
from gridpeer.store.base import BatchRecord


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = load_settings(Path(argv[0]))
    hooks = {}
    if len(argv) == 3:
        point, marker = argv[1], Path(argv[2])

        def freeze(rec: BatchRecord) -> None:
            marker.write_text(f"{point} {rec.seq}")
            while True:
                time.sleep(1)

        hooks[point] = freeze
    run(settings, poll_s=0.05, hooks=hooks)


if __name__ == "__main__":
    main(sys.argv[1:])
