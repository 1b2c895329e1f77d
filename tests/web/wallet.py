"""A test EIP-1193 provider for Playwright pages: ``window.ethereum.request`` forwards to a
real JSON-RPC node (anvil); accounts, ``personal_sign`` and ``eth_sendTransaction`` are
handled with a local key, like a wallet extension does; ``eth_signTypedData_v4`` signs
EIP-712 typed data (signed orders of the centralized and hybrid markets)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount

PROVIDER_JS = """
window.ethereum = {
  isGridpeerInjectedWallet: true,
  request: async ({ method, params }) => {
    const out = JSON.parse(await window.__walletRpc(method, JSON.stringify(params || [])));
    if (out.error) { const e = new Error(out.error.message); e.code = out.error.code; throw e; }
    return out.result;
  },
  on() {}, removeListener() {},
};
"""


class InjectedWallet:
    """Signs for ``key`` and forwards everything else to ``rpc_url``.

    ``chain_id`` overrides what ``eth_chainId`` answers (to test wrong-network handling).
    """

    def __init__(self, rpc_url: str, key: LocalAccount, chain_id: int | None = None) -> None:
        self.rpc_url, self.key, self.chain_id = rpc_url, key, chain_id
        self.sent: list[str] = []
        self.typed: list[dict[str, Any]] = []

    def rpc(self, method: str, params: list[Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        req = urllib.request.Request(
            self.rpc_url, body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            out = json.loads(resp.read())
        if "error" in out:
            raise RuntimeError(out["error"].get("message", "rpc error"))
        return out["result"]

    def handle(self, method: str, params_json: str) -> str:
        try:
            return json.dumps({"result": self._handle(method, json.loads(params_json))})
        except Exception as exc:
            return json.dumps({"error": {"code": 4001, "message": str(exc)}})

    def _handle(self, method: str, params: list[Any]) -> Any:
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [self.key.address]
        if method == "eth_chainId" and self.chain_id is not None:
            return hex(self.chain_id)
        if method == "wallet_switchEthereumChain":
            raise RuntimeError("the user rejected switching networks")
        if method == "personal_sign":
            msg = encode_defunct(hexstr=params[0])
            return "0x" + self.key.sign_message(msg).signature.hex().removeprefix("0x")
        if method == "eth_signTypedData_v4":
            if params[0].lower() != self.key.address.lower():
                raise RuntimeError("typed data for an account this wallet does not hold")
            data = json.loads(params[1]) if isinstance(params[1], str) else params[1]
            sig = self.key.sign_message(encode_typed_data(full_message=data))
            self.typed.append(data)
            return "0x" + sig.signature.hex().removeprefix("0x")
        if method == "eth_sendTransaction":
            tx = params[0]
            if tx["from"].lower() != self.key.address.lower():
                raise RuntimeError("transaction from an account this wallet does not hold")
            full = {
                "to": tx["to"],
                "data": tx["data"],
                "value": int(tx["value"], 16),
                "gas": int(tx["gas"], 16),
                "gasPrice": int(self.rpc("eth_gasPrice", []), 16) * 2,
                "nonce": int(
                    self.rpc("eth_getTransactionCount", [self.key.address, "pending"]), 16
                ),
                "chainId": int(self.rpc("eth_chainId", []), 16),
            }
            raw = Account.sign_transaction(full, self.key.key).raw_transaction
            h = self.rpc("eth_sendRawTransaction", ["0x" + raw.hex().removeprefix("0x")])
            self.sent.append(h)
            return h
        return self.rpc(method, params)

    def install(self, context: Any) -> None:
        """Expose the wallet to every page of a Playwright browser context."""
        context.expose_function("__walletRpc", self.handle)
        context.add_init_script(PROVIDER_JS)
