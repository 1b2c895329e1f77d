"""gridpeer.chain: the EnergyMarket contract and its typed Python client.

Public API: :func:`open_chain` (embedded / revm / JSON-RPC URL) → :class:`Chain`
(dev role accounts, ``deploy_market()``, ``houses(n, market)``) → :class:`MarketClient`.
"""

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
