#!/usr/bin/env bash
# Build the web app image (root Containerfile) with no registry and no network during the build:
#   base    Debian bookworm made by mmdebstrap from the Debian mirror (python3 + the shared
#           libraries dlib needs), imported FROM scratch;
#   wheels  a wheelhouse prepared on the host with pip (the project's runtime dependencies), plus
#           the OpenBLAS build of dlib from scripts/build-dlib.sh (its cached wheel);
#   build   `podman build --network none` of the root Containerfile with that base and wheelhouse.
# The rootfs, the wheelhouse and the finished image (an OCI archive) are cached under
# EDGEFACE_IMAGE_CACHE, each keyed by its inputs, so a second build of the same tree only loads.
#
#   scripts/build-app-image.sh [TAG]     build (or load) the image as TAG (default localhost/edgeface/edgeface:dev)
#
# Environment:
#   EDGEFACE_PODMAN       podman command line to use, with its storage options (default: podman)
#   EDGEFACE_IMAGE_CACHE  cache folder (default ~/.cache/edgeface/image)
#   DEBIAN_MIRROR         bookworm mirror for mmdebstrap (default: the first Debian URI in this machine's apt sources)
#   PYTHON                host interpreter for pip and the dlib build; must be Python 3.11 (bookworm's)
#   EDGEFACE_IMAGE_REV    build the sources of this git commit (e.g. HEAD) instead of the working tree
# The dlib wheel is built for -march=x86-64-v3 (AVX2, FMA, BMI2, MOVBE: Intel Haswell / AMD
# Excavator and later) unless DLIB_MARCH says otherwise (docs/dlib-build.md); the image says which.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${1:-localhost/edgeface/edgeface:dev}
PY=${PYTHON:-python3}
CACHE=${EDGEFACE_IMAGE_CACHE:-$HOME/.cache/edgeface/image}
# The mirror this machine's apt already uses (deb822 .sources or one-line sources.list).
apt_mirror() {
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' || true
    grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' || true
  } | { grep -v -- '-security' || true; } | head -n 1
}
MIRROR=${DEBIAN_MIRROR:-$(apt_mirror)}
[ -n "$MIRROR" ] || { echo "build-app-image: error: no Debian mirror in /etc/apt/sources*: set DEBIAN_MIRROR" >&2; exit 1; }
read -r -a PODMAN <<< "${EDGEFACE_PODMAN:-podman}"
# Runtime shared libraries of the dlib wheel (ldd: OpenBLAS/LAPACK, libjpeg, libpng, and libX11:
# dlib links it when the build machine has its headers); python3-venv gives the build stage pip.
# Bump RECIPE when the rootfs recipe changes.
BASE_PACKAGES=python3,python3-venv,libopenblas0-pthread,libjpeg62-turbo,libpng16-16,libx11-6
RECIPE=r2

die() { echo "build-app-image: error: $*" >&2; exit 1; }
say() { echo "build-app-image: $*" >&2; }
sha() { sha256sum | cut -c1-16; }
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: apt-get install mmdebstrap (scripts/install-deps.sh --test)"
command -v "${PODMAN[0]}" >/dev/null || die "podman is missing: apt-get install podman"
pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# The wheels are built by the host's Python; bookworm's python3 is 3.11, so only 3.11 wheels fit.
[ "$pyver" = 3.11 ] || die "host Python is $pyver, the image's (Debian bookworm) is 3.11: set PYTHON to a 3.11 interpreter"
mkdir -p "$CACHE"
start=$SECONDS

# 1. dlib: the OpenBLAS wheel (built once, ~10 min, then cached by scripts/build-dlib.sh).
dlib_wheel=$(PYTHON="$PY" scripts/build-dlib.sh --wheel-only | tail -n 1)
[ -f "$dlib_wheel" ] || die "scripts/build-dlib.sh printed no wheel ($dlib_wheel)"
march=$(basename "$(dirname "$dlib_wheel")" | sed -n 's/^dlib-[^-]*-openblas-\(.*\)-cp[0-9]*-.*$/\1/p')

# 2. base rootfs + base image.
base_key=$(echo "bookworm $BASE_PACKAGES $RECIPE" | sha)
rootfs="$CACHE/rootfs-$base_key.tar"
if [ ! -f "$rootfs" ]; then
  say "making the bookworm rootfs with mmdebstrap from $MIRROR (about 1-2 min)"
  # No docs, man pages or translations: nothing in the image reads them. The merged-usr hook
  # instead of the usrmerge package, which would pull in perl (~50 MB).
  mmdebstrap --quiet --format=tar --variant=minbase --include="$BASE_PACKAGES" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm "$rootfs.part" "$MIRROR" >&2 || die "mmdebstrap failed (is $MIRROR reachable? set DEBIAN_MIRROR)"
  mv "$rootfs.part" "$rootfs"
  find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$base_key.tar" -delete   # superseded
fi
base_image="localhost/edgeface/bookworm-base:$base_key"
if ! "${PODMAN[@]}" image exists "$base_image"; then
  ctx=$(mktemp -d)
  ln "$rootfs" "$ctx/rootfs.tar" 2>/dev/null || cp "$rootfs" "$ctx/rootfs.tar"
  printf 'FROM scratch\nADD rootfs.tar /\nCMD ["/usr/bin/python3"]\n' > "$ctx/Containerfile"
  "${PODMAN[@]}" build --quiet --network none --timestamp 0 -t "$base_image" "$ctx" >/dev/null \
    || { rm -rf "$ctx"; die "could not import the rootfs as $base_image"; }
  rm -rf "$ctx"
fi

# 3. wheelhouse of the runtime dependencies (keyed by pyproject.toml); the project's own wheel is
# built fresh every time (it is small and changes with every commit), from a copy of the sources
# because pip builds in the source tree.
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/src" "$ctx/wheels"
if [ -n "${EDGEFACE_IMAGE_REV:-}" ]; then   # a commit, not the working tree (which may be mid-edit)
  git archive "$EDGEFACE_IMAGE_REV" pyproject.toml README.md edgeface webapp | tar -x -C "$ctx/src" \
    || die "cannot read the sources of $EDGEFACE_IMAGE_REV with git archive"
else
  cp -r pyproject.toml README.md edgeface webapp "$ctx/src/"
fi
find "$ctx/src" -name __pycache__ -prune -exec rm -rf {} +
# Developer tools (benchmarks, demo, simulator, Tekton runner, review) are not for the edge.
rm -rf "$ctx/src/edgeface/tools"
src_sum=$(cd "$ctx/src" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha)
deps_key=$( (cat "$ctx/src/pyproject.toml"; echo "$pyver $(uname -m)") | sha)
wheelhouse="$CACHE/wheels-$deps_key"
if [ ! -d "$wheelhouse" ]; then
  say "preparing the wheelhouse with pip (runtime dependencies only)"
  rm -rf "$wheelhouse.part"
  "$PY" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$wheelhouse.part" "$ctx/src" >&2 \
    || die "pip could not prepare the wheelhouse (is PyPI reachable?)"
  rm -f "$wheelhouse.part"/edgeface-*.whl
  mv "$wheelhouse.part" "$wheelhouse"
  find "$CACHE" -maxdepth 1 -name 'wheels-*' ! -name "wheels-$deps_key" -exec rm -rf {} +   # superseded
fi
cp -l "$wheelhouse"/*.whl "$ctx/wheels/" 2>/dev/null || cp "$wheelhouse"/*.whl "$ctx/wheels/"
cp "$dlib_wheel" "$ctx/wheels/"
"$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation --wheel-dir "$ctx/wheels" "$ctx/src" >&2 \
  || die "pip could not build the edgeface wheel"
# The build context: what the root Containerfile copies, plus the wheels.
cp Containerfile "$ctx/"
mkdir "$ctx/webapp" && cp "$ctx/src/webapp/gunicorn.conf.py" "$ctx/webapp/"
rm -rf "$ctx/src"

# 4. the image, cached as an OCI archive keyed by everything that goes into it.
image_key=$( (echo "$base_key $deps_key $march"; cat Containerfile; basename "$dlib_wheel"; echo "$src_sum") | sha)
archive="$CACHE/app-$image_key.oci.tar"
if [ -f "$archive" ]; then
  say "loading the cached image $archive"
  loaded=$("${PODMAN[@]}" load --quiet --input "$archive" | sed -n 's/^Loaded image: //p' | tail -n 1)
  "${PODMAN[@]}" tag "${loaded:-localhost/edgeface/app:$image_key}" "$TAG"
else
  say "building $TAG with --network none (base $base_image, dlib $(basename "$dlib_wheel"), march ${march:-default})"
  # docker format: the OCI format drops the Containerfile's SHELL (bash -o pipefail)
  # --layers=false: one commit per stage, not per step (each commit copies the whole tree on vfs)
  "${PODMAN[@]}" build --network none --pull=never --format docker --layers=false \
    --build-arg BUILD_IMAGE="$base_image" --build-arg RUNTIME_IMAGE="$base_image" \
    --build-arg DLIB_MARCH="${march:-unknown}" \
    -t "$TAG" -t "localhost/edgeface/app:$image_key" "$ctx" >&2 || die "podman build failed (see above)"
  "${PODMAN[@]}" save --quiet --format oci-archive -o "$archive.part" "localhost/edgeface/app:$image_key" \
    && mv "$archive.part" "$archive"
  # older archives of this cache are superseded
  find "$CACHE" -maxdepth 1 -name 'app-*.oci.tar' ! -name "app-$image_key.oci.tar" -delete
fi
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$TAG")
say "$TAG ready: $((size / 1000000)) MB, in $((SECONDS - start)) s"
echo "$TAG"
