"""The layer order of docs/architecture.md, checked by import-linter's contracts in
pyproject.toml (also run by ``make lint``)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_the_layers_contract_names_every_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c for c in config["contracts"] if c["type"] == "layers"]
    assert layers["exhaustive"] is True
    named = {p.strip() for layer in layers["layers"] for p in layer.split(":")}
    packages = {p.name for p in (ROOT / "gridpeer").iterdir() if (p / "__init__.py").exists()}
    assert packages <= named, f"packages missing from the layers: {sorted(packages - named)}"
