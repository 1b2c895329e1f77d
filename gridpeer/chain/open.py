"""Open a chain by name and get dev accounts and a deployed market in one step."""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount

from gridpeer.chain.accounts import dev_account, dev_houses
from gridpeer.chain.backend import Backend
from gridpeer.chain.client import MarketClient
from gridpeer.core.extras import require

DEV_FUNDS_WEI = 10**22  # 10,000 ether per dev role account
HOUSE_FUNDS_WEI = 10**21
"""1,000 ether per dev house: the embedded chain's ten rich accounts hold 10 million
ether in all, so 10,000 each ran out at ~1,000 houses."""


@dataclass
class Chain:
    """A backend plus the dev role accounts (admin, oracle, coordinator)."""

    backend: Backend
    admin: LocalAccount = field(default_factory=lambda: dev_account("admin"))
    oracle: LocalAccount = field(default_factory=lambda: dev_account("oracle"))
    coordinator: LocalAccount = field(default_factory=lambda: dev_account("coordinator"))

    def fund(self, *accounts: LocalAccount, wei: int = DEV_FUNDS_WEI) -> None:
        """Give dev accounts ether (dev chains only)."""
        for a in accounts:
            self.backend.fund(a.address, wei)

    def deploy_market(self, grace_s: int = 3600) -> MarketClient:
        """Fund the role accounts and deploy a fresh market."""
        self.fund(self.admin, self.oracle, self.coordinator)
        return MarketClient.deploy(
            self.backend, self.admin, self.oracle.address, self.coordinator.address, grace_s
        )

    def houses(self, n: int, market: MarketClient | None = None) -> list[LocalAccount]:
        """Dev houses h1..hN, funded, and registered as members of ``market`` if given."""
        from gridpeer.chain.pipeline import add_members, fund_many

        hs = dev_houses(n)
        fund_many(self.backend, [h.address for h in hs], HOUSE_FUNDS_WEI)
        if market is not None:  # pipelined on a JSON-RPC node: ~1,000 in seconds
            add_members(market, self.admin, [h.address for h in hs])
        return hs


def open_chain(kind: str = "embedded", genesis_time: int | None = None) -> Chain:
    """``"embedded"`` (web3 EthereumTesterProvider), ``"revm"`` (pyrevm) or a JSON-RPC URL."""
    backend: Backend
    if kind == "embedded":
        require("demo", "the embedded chain")
        from gridpeer.chain.web3_backend import Web3Backend

        backend = Web3Backend.embedded()
    elif kind == "revm":
        require("evm", 'open_chain("revm")')
        from gridpeer.chain.revm_backend import GENESIS_TIME, RevmBackend

        backend = RevmBackend(genesis_time if genesis_time is not None else GENESIS_TIME)
    elif kind.startswith(("http://", "https://")):
        from gridpeer.chain.web3_backend import Web3Backend

        backend = Web3Backend.rpc(kind)
    else:
        raise ValueError(f"unknown chain {kind!r}: 'embedded', 'revm' or an http(s):// URL")
    return Chain(backend)
