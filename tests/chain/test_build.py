"""The committed artifacts match a fresh compile with the pinned npm solc."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from gridpeer.chain.artifact import load_artifact
from gridpeer.chain.build import CONTRACTS, SOLC_VERSION, artifact_path, compile_contract
from gridpeer.cli import app


@pytest.mark.parametrize("name", CONTRACTS)
def test_committed_artifact_is_fresh(name: str) -> None:
    if shutil.which("node") is None:  # never silently skip the staleness check
        pytest.fail("Node.js is needed to recompile the contract (make test installs it)")
    fresh = compile_contract(name)
    committed = json.loads(artifact_path(name).read_text())
    assert committed["sourceHash"] == fresh["sourceHash"], "source changed: make contracts"
    assert committed == fresh, "artifact stale: run `make contracts` and commit it"
    assert fresh["compiler"].startswith(SOLC_VERSION) and fresh["evmVersion"] == "shanghai"


def test_artifact_loads_without_node() -> None:
    a = load_artifact()
    assert a.bytecode[:2] == bytes.fromhex("6080") or len(a.bytecode) > 1000
    assert any(x["type"] == "function" and x["name"] == "settleBatch" for x in a.abi)


def test_cli_help_lists_build() -> None:
    result = CliRunner().invoke(app, ["contracts", "--help"])
    assert result.exit_code == 0 and "build" in result.output and "check" in result.output
