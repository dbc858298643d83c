#!/usr/bin/env bash
# The local demo on a fresh machine: installs edgeface, trains the sample model if needed, starts
# the web app and a simulated camera on loopback (real mDNS), and prints the URL to open with an
# admin and a viewer token to log in with; Ctrl-C stops the app before the MQTT broker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec "${PYTHON:-python3}" -m edgeface demo "$@"
