"""Development chains: nodes whose time may be set and whose blocks never reorg."""

from __future__ import annotations

DEV_CHAIN_IDS = frozenset({31337, 1337})
"""Chain ids of anvil and Hardhat (31337), Ganache and geth --dev (1337)."""
