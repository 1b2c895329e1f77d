"""gridpeer.chain: the EnergyMarket contract and its typed Python client.

Public API: :func:`open_chain` (embedded / revm / JSON-RPC URL) → :class:`Chain`
(dev role accounts, ``deploy_market()``, ``houses(n, market)``) → :class:`MarketClient`.

The names are imported on first use (PEP 562 ``__getattr__``), so importing a light
submodule such as ``gridpeer.chain.commands`` does not load eth-account and web3
(about 0.6-1 s); ``from gridpeer.chain import MarketClient`` works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gridpeer.chain.accounts import dev_account, dev_houses, from_env, from_keystore
    from gridpeer.chain.backend import Backend, RawLog, Receipt
    from gridpeer.chain.client import ACTIONS, MarketClient, TxRequest
    from gridpeer.chain.open import Chain, open_chain
    from gridpeer.chain.types import (
        THESIS_SCHEDULE,
        Match,
        Order,
        OrderTerms,
        Schedule,
        SignedOrder,
        Trade,
        batch_trade_id,
        cost_wei,
    )

_SOURCES = {
    "dev_account": "accounts",
    "dev_houses": "accounts",
    "from_env": "accounts",
    "from_keystore": "accounts",
    "Backend": "backend",
    "RawLog": "backend",
    "Receipt": "backend",
    "ACTIONS": "client",
    "MarketClient": "client",
    "TxRequest": "client",
    "Chain": "open",
    "open_chain": "open",
    "THESIS_SCHEDULE": "types",
    "Match": "types",
    "Order": "types",
    "OrderTerms": "types",
    "Schedule": "types",
    "SignedOrder": "types",
    "Trade": "types",
    "batch_trade_id": "types",
    "cost_wei": "types",
}

__all__ = [
    "ACTIONS",
    "THESIS_SCHEDULE",
    "Backend",
    "Chain",
    "MarketClient",
    "Match",
    "Order",
    "OrderTerms",
    "RawLog",
    "Receipt",
    "Schedule",
    "SignedOrder",
    "Trade",
    "TxRequest",
    "batch_trade_id",
    "cost_wei",
    "dev_account",
    "dev_houses",
    "from_env",
    "from_keystore",
    "open_chain",
]


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{source}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
