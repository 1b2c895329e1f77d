"""Load the committed contract artifacts (ABI + bytecode); no Node or compiler needed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_DIR = Path(__file__).parent / "contracts"


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: ABI, creation bytecode, compiler version and source hash."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes
    compiler: str
    source_hash: str


@cache
def load_artifact(name: str = "EnergyMarket") -> Artifact:
    """Read ``gridpeer/chain/contracts/<name>.json``."""
    path = _DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: run `gridpeer contracts build`")
    raw = json.loads(path.read_text())
    return Artifact(
        name=raw["contractName"],
        abi=raw["abi"],
        bytecode=bytes.fromhex(raw["bytecode"][2:]),
        deployed_bytecode=bytes.fromhex(raw["deployedBytecode"][2:]),
        compiler=raw["compiler"],
        source_hash=raw["sourceHash"],
    )
