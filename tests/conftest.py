"""Root test configuration.

Real services the tests start on 127.0.0.1 (Mosquitto, PostgreSQL, anvil) live as
pytest plugins in ``tests/services/``, one module per service; every module there is
loaded here so any test can ask for their fixtures.
"""

from __future__ import annotations

import pkgutil
from pathlib import Path

pytest_plugins = [
    f"tests.services.{m.name}"
    for m in pkgutil.iter_modules([str(Path(__file__).parent / "services")])
    if m.name != "ports"  # a helper module, imported by the services themselves
]
