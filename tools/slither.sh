#!/usr/bin/env bash
# Slither static analysis of gridpeer's contracts (run by `make slither`, part of `make test`).
#
# Slither pins web3 < 8, so it lives in its own venv (.slither-venv, git-ignored). It
# compiles through tools/solc, a `solc` command line backed by the pinned npm solc.
# Exits non-zero only on high/medium findings that are not explained in the source with a
# `// slither-disable-next-line <detector>` comment saying why (see docs/chain.md).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.slither-venv
SLITHER_VERSION=0.11.6
PY=${PY:-python3}

if [ ! -x node_modules/solc/soljson.js ] && [ ! -f node_modules/solc/soljson.js ]; then
  echo "slither.sh: node_modules/solc missing: run 'make node' (npm ci)" >&2
  exit 2
fi
if ! "$VENV/bin/slither" --version 2>/dev/null | grep -qx "$SLITHER_VERSION"; then
  echo "slither.sh: installing slither-analyzer $SLITHER_VERSION into $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q "slither-analyzer==$SLITHER_VERSION"
fi

status=0
for sol in gridpeer/chain/contracts/*.sol; do
  echo "== slither $sol"
  "$VENV/bin/slither" "$sol" \
    --compile-force-framework solc \
    --solc tools/solc \
    --solc-args "--evm-version shanghai --via-ir --optimize" \
    --exclude-low --exclude-informational --exclude-optimization \
    || status=$?
done
if [ "$status" -ne 0 ]; then
  echo "slither.sh: unexplained high/medium findings (or a failure) above" >&2
fi
exit "$status"
