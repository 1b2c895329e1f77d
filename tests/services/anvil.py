"""An anvil node (npm @foundry-rs/anvil) on a free 127.0.0.1 port, one per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gridpeer.chain.anvil import AnvilNode, anvil_binary


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    """JSON-RPC URL of a fresh anvil (shanghai rules, automine), stopped at session end."""
    try:
        anvil_binary()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    with AnvilNode() as node:
        yield node.url
