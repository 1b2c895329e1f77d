"""``gridpeer coordinator``: registered on the CLI, and refuses settings it cannot run
with the reason (exit 2)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gridpeer.cli import app
from gridpeer.coordinator.process import check, main
from gridpeer.core.settings import load_settings

KEY = "0x" + "11" * 32


def test_the_command_is_registered() -> None:
    r = CliRunner().invoke(app, ["coordinator", "--help"])
    assert r.exit_code == 0 and "--config" in r.output


def test_settings_it_cannot_run_are_refused_with_the_reason(tmp_path: Path) -> None:
    assert "decentralized" in str(check(load_settings(None)))
    hybrid = {"design": "hybrid"}
    assert "rpc_url" in str(check(load_settings(None, market=hybrid)))
    chain = {"rpc_url": "http://127.0.0.1:1", "contract_address": "0x" + "ab" * 20}
    s = load_settings(None, market=hybrid, chain=chain)
    assert "coordinator_key" in str(check(s))
    s = load_settings(None, market=hybrid, chain=chain | {"coordinator_key": KEY})
    assert "store_url" in str(check(s))
    s = load_settings(
        None, market=hybrid, chain=chain | {"coordinator_key": KEY}, store_url="sqlite:///x.db"
    )
    assert check(s) is None
    cfg = tmp_path / "c.toml"
    cfg.write_text('[market]\ndesign = "decentralized"\n')
    assert main(cfg) == 2
    assert main(tmp_path / "missing.toml") == 2
