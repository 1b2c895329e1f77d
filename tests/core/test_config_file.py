"""ConfigFile edits a community TOML in place: comments kept, second runs write nothing."""

from __future__ import annotations

import tomllib
from pathlib import Path

from gridpeer.core.config_file import ConfigFile

TOML = """# my community
community = "villa"  # the id

[chain]
rpc_url = "http://127.0.0.1:8545"  # anvil

[[accounts]]
id = "h1"  # first house
"""


def test_edits_keep_comments_and_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(TOML)
    cf = ConfigFile(path)
    assert cf.set("chain.contract_address", "0x" + "ab" * 20, "deployed")
    assert cf.set("keys.oracle.keystore", "keys/oracle.json")
    table = cf.add_account("h2")
    assert cf.set_in(table, "address", "0x" + "cd" * 20)
    assert cf.save()
    text = path.read_text()
    for comment in ("# my community", "# the id", "# anvil", "# first house", "# deployed"):
        assert comment in text
    doc = tomllib.loads(text)
    assert doc["chain"]["contract_address"] == "0x" + "ab" * 20
    assert doc["keys"]["oracle"]["keystore"] == "keys/oracle.json"
    assert [a["id"] for a in doc["accounts"]] == ["h1", "h2"]

    again = ConfigFile(path)
    assert not again.set("chain.contract_address", "0x" + "ab" * 20)
    assert not again.setdefault("keys.oracle.keystore", "other.json")
    assert again.add_account("h2") is not None
    assert not again.set_in(again.add_account("h2"), "address", "0x" + "cd" * 20)
    assert not again.save()
    assert path.read_text() == text


def test_remove_and_new_file(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    cf = ConfigFile(path)
    assert cf.get("web.port") is None
    assert cf.set("web.port", 8000)
    assert cf.save()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    cf = ConfigFile(path)
    assert cf.get("web.port") == 8000
    assert cf.remove("web.port") and not cf.remove("web.port")
    assert not cf.remove("nothing.here")
