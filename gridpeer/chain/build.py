"""Compile the Solidity sources with the pinned npm ``solc`` and write JSON artifacts.

Running gridpeer needs only the committed artifacts; this module (and Node) is needed
only to rebuild them (``gridpeer contracts build``) and for the staleness test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).parent / "contracts"
SOLC_VERSION = "0.8.30"
EVM_VERSION = "shanghai"
OPTIMIZER_RUNS = 100_000
CONTRACTS = ("EnergyMarket",)

_NODE_COMPILE = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const output = JSON.parse(solc.compile(input));
  process.stdout.write(JSON.stringify({version: solc.version(), output}));
});
"""


class BuildError(RuntimeError):
    """The compiler is missing or rejected the sources."""


def find_solc_js(start: Path | None = None) -> Path:
    """Locate ``node_modules/solc`` in ``start`` (default: cwd) or a parent, else the repo."""
    candidates = [start or Path.cwd(), Path(__file__).resolve().parents[2]]
    for base in candidates:
        for d in (base, *base.parents):
            p = d / "node_modules" / "solc"
            if (p / "package.json").is_file():
                return p
    raise BuildError("npm package 'solc' not found: run `npm ci` (make node) in the repository")


def source_hash(name: str) -> str:
    """SHA-256 (hex) of a contract's Solidity source."""
    return hashlib.sha256((CONTRACTS_DIR / f"{name}.sol").read_bytes()).hexdigest()


def standard_json(name: str) -> dict[str, Any]:
    """Solidity standard-JSON compiler input for one contract (pinned settings)."""
    return {
        "language": "Solidity",
        "sources": {f"{name}.sol": {"content": (CONTRACTS_DIR / f"{name}.sol").read_text()}},
        "settings": {
            "evmVersion": EVM_VERSION,
            "viaIR": True,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }


def compile_contract(name: str, solc_js: Path | None = None) -> dict[str, Any]:
    """Compile ``contracts/<name>.sol`` with npm solc; returns the artifact dict."""
    node = shutil.which("node")
    if node is None:
        raise BuildError("node not found: install Node.js to compile contracts")
    solc_path = solc_js or find_solc_js()
    proc = subprocess.run(
        [node, "-e", _NODE_COMPILE, str(solc_path)],
        input=json.dumps(standard_json(name)),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"solc failed: {proc.stderr.strip()}")
    result = json.loads(proc.stdout)
    version = str(result["version"])
    if not version.startswith(SOLC_VERSION + "+"):
        raise BuildError(f"solc {version} found, {SOLC_VERSION} pinned (package.json)")
    out = result["output"]
    errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise BuildError("\n".join(e["formattedMessage"] for e in errors))
    c = out["contracts"][f"{name}.sol"][name]
    return {
        "contractName": name,
        "compiler": version,
        "evmVersion": EVM_VERSION,
        "optimizerRuns": OPTIMIZER_RUNS,
        "viaIR": True,
        "sourceHash": source_hash(name),
        "abi": c["abi"],
        "bytecode": "0x" + c["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
    }


def artifact_path(name: str) -> Path:
    """Where the committed artifact of ``name`` lives."""
    return CONTRACTS_DIR / f"{name}.json"


def write_artifact(artifact: dict[str, Any]) -> Path:
    """Write an artifact as stable, diff-friendly JSON; returns its path."""
    path = artifact_path(str(artifact["contractName"]))
    path.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
    return path


def build_all() -> list[Path]:
    """Compile every contract and write its artifact."""
    return [write_artifact(compile_contract(n)) for n in CONTRACTS]
