"""A real Mosquitto broker for the tests, on a free 127.0.0.1 port, with persistence
(QoS-1 sessions survive ``restart()``). Stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gridpeer.telemetry.broker import MOSQUITTO_BINARY, MosquittoBroker
from tests.services.ports import free_port


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A running :class:`MosquittoBroker`; use ``.address`` to connect, ``.restart()``."""
    if not Path(MOSQUITTO_BINARY).exists():
        pytest.fail(f"{MOSQUITTO_BINARY} missing: install Debian's 'mosquitto' package")
    broker = MosquittoBroker(free_port(), tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
