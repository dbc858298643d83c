#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs everything it needs, then runs pytest.
# Extra arguments go to pytest (e.g. scripts/run-tests.sh tests/core -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
PY=${PYTHON:-python3}
# Lint, types and the layer contracts (pyproject.toml) first: a minute, and they fail before half
# an hour of tests would.
"$PY" -m ruff check .
"$PY" -m mypy
lint-imports
exec "$PY" -m pytest "$@"
