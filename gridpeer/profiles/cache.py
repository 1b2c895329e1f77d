"""Where generated profile data (load bank, clear-sky arrays) is cached on disk."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$GRIDPEER_CACHE_DIR``, else ``$XDG_CACHE_HOME/gridpeer``, else ``~/.cache/gridpeer``."""
    if env := os.environ.get("GRIDPEER_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gridpeer"
