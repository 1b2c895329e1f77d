"""``gridpeer admin`` against a real anvil: every subcommand does its work once, a second
run changes nothing (neither the chain nor the config file), --dry-run changes nothing,
and no plaintext key is ever written."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gridpeer.chain.anvil import AnvilNode
from gridpeer.chain.client import MarketClient
from gridpeer.chain.keystore import keystore_address
from gridpeer.chain.types import Schedule
from gridpeer.chain.web3_backend import Web3Backend
from gridpeer.cli import app
from gridpeer.oracle.ports import BlockRef

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def anvil() -> Iterator[str]:
    with AnvilNode() as node:
        yield node.url


def run(tmp: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["admin", *args, "-c", str(tmp / "community.toml")])
    assert result.exit_code == code, result.output
    return result.output


def doc(tmp: Path) -> dict:  # type: ignore[type-arg]
    return tomllib.loads((tmp / "community.toml").read_text())


def test_walk_twice(tmp_path: Path, anvil: str) -> None:
    run(tmp_path, "init", "--community", "t", "--rpc-url", anvil, "--mqtt-port", "1884")
    for name in ("admin", "oracle", "coordinator", "m1"):
        run(tmp_path, "keys", "new", name, "--password-file", str(tmp_path / f"{name}.pass"))
    run(tmp_path, "fund", "admin", "--ether", "2")
    assert "would deploy" in run(tmp_path, "deploy", "--grace", "30m", "--dry-run")
    assert "contract_address" not in doc(tmp_path)["chain"]
    run(tmp_path, "deploy", "--grace", "30m")
    run(tmp_path, "members", "add", "h1", "m1", "--name", "Casa 1")
    run(
        tmp_path, "schedule", "set", "--continuous", "15m", "--tz-minutes", "-180", "--grace", "20m"
    )

    d = doc(tmp_path)
    market = MarketClient(Web3Backend.rpc(anvil), d["chain"]["contract_address"])
    m1 = keystore_address(tmp_path / "keys" / "m1.json")
    assert market.member(m1)[1]
    assert market.schedule() == Schedule("continuous", -180, 15)
    assert market.grace_seconds() == 1200
    roles = market.roles()
    assert roles["oracle"] == d["keys"]["oracle"]["address"]
    assert roles["admin"] == d["keys"]["admin"]["address"]
    assert d["accounts"] == [
        {
            "id": "h1",
            "address": m1,
            "mqtt_password": d["accounts"][0]["mqtt_password"],
            "name": "Casa 1",
        }
    ]
    assert d["schedule"]["mode"] == "continuous" and d["schedule"]["grace_s"] == 1200

    # no plaintext key anywhere: the keystores are encrypted, the TOML holds addresses
    text = (tmp_path / "community.toml").read_text()
    assert "private" not in text.lower() and "operator_key" not in text
    ks = json.loads((tmp_path / "keys" / "m1.json").read_text())
    assert "crypto" in ks and oct((tmp_path / "keys" / "m1.json").stat().st_mode & 0o777) == "0o600"

    # second run: nothing changes, on chain or in the file
    block = market.backend.block_number()
    for args in (
        ("init",),
        ("keys", "new", "admin", "--password-file", str(tmp_path / "admin.pass")),
        ("fund", "admin", "--ether", "1"),
        ("deploy", "--grace", "30m"),
        ("members", "add", "h1", "m1"),
        ("schedule", "set", "--continuous", "15m", "--tz-minutes", "-180", "--grace", "20m"),
    ):
        out = run(tmp_path, *args)
        assert "wrote" not in out and "would" not in out, (args, out)
    assert market.backend.block_number() == block
    assert (tmp_path / "community.toml").read_text() == text

    # dry run of a change: says it, does nothing
    out = run(tmp_path, "members", "remove", "h1", "--dry-run")
    assert "would remove" in out and market.member(m1)[1]
    assert (tmp_path / "community.toml").read_text() == text
    run(tmp_path, "members", "remove", "h1")
    assert not market.member(m1)[1] and "address" not in doc(tmp_path)["accounts"][0]
    state = run(tmp_path, "state")
    assert "removed" in state and "open trades (0" in state

    # with the store configured, the oracle's own view of pending deliveries follows
    from gridpeer.oracle.state import OracleState, TradeState
    from tests.runtime.test_admin_oracle import T0, _event

    db = tmp_path / "store.db"
    st = OracleState(f"sqlite:///{db}")
    st.apply_range(BlockRef(1, "0x01"), [_event(1, T0)])
    st.set_state(1, TradeState.COMMANDED)
    st.close()
    cfg = tmp_path / "community.toml"
    lines = [ln for ln in cfg.read_text().splitlines() if not ln.startswith("store_url")]
    cfg.write_text(f'store_url = "sqlite:///{db}"\n' + "\n".join(lines) + "\n")
    state = run(tmp_path, "state")
    assert "pending deliveries, oracle's view (1; none finished):" in state
    assert "trade 1 (10 Wh" in state and "awaiting the result of seller h1 and buyer h2" in state


def test_refusals(tmp_path: Path, anvil: str) -> None:
    assert "admin init" in run(tmp_path, "state", code=2)
    run(tmp_path, "init", "--rpc-url", anvil)
    run(tmp_path, "keys", "new", "admin", "--password-file", str(tmp_path / "p"))
    assert "keys new oracle" in run(tmp_path, "deploy", code=2)
    out = run(tmp_path, "schedule", "set", "--continuous", "7m", code=2)
    assert "deploy first" in out or "whole minutes" in out


def test_serve_unlocks_the_oracle_keystore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gridpeer.core.settings import ConfigError, load_settings
    from gridpeer.runtime.serve import operator_account

    run(tmp_path, "init")
    run(tmp_path, "keys", "new", "oracle", "--password-file", str(tmp_path / "o.pass"))
    address = doc(tmp_path)["keys"]["oracle"]["address"]
    settings = load_settings(tmp_path / "community.toml")
    assert settings.keys["oracle"].keystore == tmp_path / "keys" / "oracle.json"
    assert operator_account(settings).address == address
    (tmp_path / "o.pass").write_text("wrong\n")
    with pytest.raises(ConfigError, match="wrong password"):
        operator_account(load_settings(tmp_path / "community.toml"))
    monkeypatch.setenv("GRIDPEER_KEYS__ORACLE__PASSWORD", "also wrong")
    with pytest.raises(ConfigError, match=r"\[keys.oracle\]"):
        operator_account(load_settings(tmp_path / "community.toml"))


@pytest.mark.parametrize(
    "command",
    [
        ["init"],
        ["keys", "new"],
        ["deploy"],
        ["fund"],
        ["members", "add"],
        ["members", "remove"],
        ["schedule", "set"],
        ["state"],
    ],
)
def test_every_subcommand_has_help_and_a_dry_run(command: list[str]) -> None:
    result = CliRunner().invoke(app, ["admin", *command, "--help"])
    assert result.exit_code == 0 and "--dry-run" in result.output
