#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs everything it needs, then runs pytest.
# Extra arguments go to pytest (e.g. scripts/run-tests.sh tests/core -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
PY=${PYTHON:-python3}
# Lint and types first: a minute, and it fails before half an hour of tests would.
"$PY" -m ruff check .
"$PY" -m mypy
exec "$PY" -m pytest "$@"
