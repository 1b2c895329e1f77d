"""Dev accounts are deterministic; real keys come from a keystore file or the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from gridpeer.chain import dev_account, dev_houses, from_env, from_keystore


def test_dev_accounts_are_deterministic_and_distinct() -> None:
    names = ["admin", "oracle", "coordinator"] + [f"h{i}" for i in range(1, 6)]
    addrs = [dev_account(n).address for n in names]
    assert len(set(addrs)) == len(addrs)
    assert [h.address for h in dev_houses(5)] == addrs[3:]
    assert dev_account("admin").address == dev_account("admin").address


def test_keys_from_keystore_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    acct = Account.create()
    ks = Account.encrypt(acct.key, "pw", kdf="pbkdf2", iterations=2)
    path = tmp_path / "key.json"
    path.write_text(json.dumps(ks))
    assert from_keystore(path, "pw").address == acct.address
    with pytest.raises(ValueError):
        from_keystore(path, "wrong")
    monkeypatch.setenv("GRIDPEER_PRIVATE_KEY", acct.key.hex())
    assert from_env().address == acct.address
    monkeypatch.delenv("GRIDPEER_PRIVATE_KEY")
    with pytest.raises(KeyError, match="GRIDPEER_PRIVATE_KEY"):
        from_env()
