#!/usr/bin/env bash
# Install what edgeface needs on a fresh Debian machine with Python 3.10+.
#   scripts/install-deps.sh          the package and its runtime dependencies (the demo)
#   scripts/install-deps.sh --test   plus every tool the test suite uses (as root: Debian packages too)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# Debian packages: the real registry, image builder, container runtime and browser the tests use.
APT_TEST_PACKAGES=(buildah podman runc docker-registry busybox-static chromium iproute2 nodejs npm)
if [ "$want_test" = 1 ]; then
  missing=()
  for p in "${APT_TEST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # nodejs/npm may come from elsewhere (e.g. a preinstalled Node); only ask apt when absent.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
  fi
  read -r -a missing <<< "${missing[*]}"
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "installing Debian packages: ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
      echo "warning: not root, cannot install Debian packages: ${missing[*]}" >&2
    fi
  fi
fi

extras=""
[ "$want_test" = 1 ] && extras="[test,notebook,cluster]"
"$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e ".${extras}"

if [ "$want_test" = 1 ] && [ -f package.json ]; then
  # Node test tools (playwright-core drives Debian's chromium; @ibm/tekton-lint) pinned in package-lock.json.
  npm ci --no-audit --no-fund --loglevel=error
fi
