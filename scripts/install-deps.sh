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
APT_TEST_PACKAGES=(buildah podman runc catatonit mmdebstrap docker-registry busybox-static chromium fonts-dejavu-core iproute2 nodejs npm mosquitto mosquitto-clients gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav ffmpeg nginx-light libnginx-mod-rtmp)
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

# dlib: the source build with OpenBLAS + AVX2 encodes faces 4.5x faster than the dlib-bin wheel at
# the same HOG speed (docs/dlib-build.md). It takes ~10 min once, then comes from the wheel cache.
# EDGEFACE_DLIB=bin, a CPU without AVX2 or a failed build (no root for its Debian packages) use dlib-bin.
extras=()
[ "$want_test" = 1 ] && extras=(test notebook cluster)
dlib=${EDGEFACE_DLIB:-source}
if [ "$dlib" = source ] && ! grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
  echo "no AVX2 on this CPU: using the dlib-bin wheel"; dlib=bin
fi
if [ "$dlib" = source ] && ! PYTHON="$PY" scripts/build-dlib.sh; then
  echo "warning: building dlib failed (see above); falling back to the dlib-bin wheel" >&2; dlib=bin
fi
[ "$dlib" = bin ] && extras+=(dlib-bin)
spec="."
[ "${#extras[@]}" -gt 0 ] && spec=".[$(IFS=,; echo "${extras[*]}")]"
"$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e "$spec"

if [ "$want_test" = 1 ] && [ -f package.json ]; then
  # Node test tools (playwright-core drives Debian's chromium; @ibm/tekton-lint) pinned in package-lock.json.
  npm ci --no-audit --no-fund --loglevel=error
fi
