"""Accounts: deterministic dev keys for the demo and tests; real keys from keystore/env.

Dev keys are ``keccak256("gridpeer dev key:" + name)`` for the names ``admin``,
``oracle``, ``coordinator`` and ``h1``..``hN``. They are public knowledge: use them
only on dev chains (embedded, anvil, pyrevm). Real keys never live in the repository:
load them from an encrypted keystore file or an environment variable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

DEV_SEED = "gridpeer dev key:"


def dev_account(name: str) -> LocalAccount:
    """The deterministic dev account called ``name`` (e.g. ``admin``, ``h3``)."""
    acct: LocalAccount = Account.from_key(keccak(text=DEV_SEED + name))
    return acct


def dev_houses(n: int) -> list[LocalAccount]:
    """Dev accounts ``h1``..``hN`` for ``n`` houses."""
    return [dev_account(f"h{i}") for i in range(1, n + 1)]


def from_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt a V3 keystore JSON file (geth/clef/MetaMask export format)."""
    key = Account.decrypt(json.loads(path.read_text()), password)
    acct: LocalAccount = Account.from_key(key)
    return acct


def from_env(var: str = "GRIDPEER_PRIVATE_KEY") -> LocalAccount:
    """A key given as 0x-hex in the environment variable ``var``."""
    value = os.environ.get(var)
    if not value:
        raise KeyError(f"environment variable {var} is not set")
    acct: LocalAccount = Account.from_key(value)
    return acct
