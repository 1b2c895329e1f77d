"""``gridpeer serve`` (its composition: store, ingest, chain, oracle, web) in a child
process whose model clock is shifted: model time is ``START`` at POSIX wall time
``WALL0``, at real speed — so a test can put a whole community just before a UTC
midnight (the chain node shifted the same way) and watch trades cross the day.

    python -m tests.e2e.serve_clock CONFIG START_ISO WALL0

Prints ``serve ready <url>`` once every service started; SIGTERM / SIGINT stops it.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from gridpeer.core.clock import epoch_clock
from gridpeer.core.settings import load_settings
from gridpeer.runtime.composition import Parts, run_until_stopped
from gridpeer.runtime.serve import serve_composition, serve_parts
from gridpeer.web.server import run_loop


def main(config: str, start: str, wall0: str) -> None:
    parts = serve_parts(load_settings(Path(config)))
    parts.clock = epoch_clock(datetime.fromisoformat(start), 1.0, float(wall0))

    def ready(p: Parts) -> None:
        print(f"serve ready {p.url}", flush=True)

    run_loop(run_until_stopped(parts, serve_composition(), on_ready=ready))


if __name__ == "__main__":
    main(*sys.argv[1:4])
