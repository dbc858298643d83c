#!/bin/busybox sh
# Deliver the model baked into this image: copy /edgeface/model.data into the target directory
# (argument 1, default /model: the emptyDir the web app mounts), checking its sha256 against the
# one recorded at build time before and after the copy. The copy is written under a temporary
# name and renamed, so a reader never sees a partial model.data.
set -eu

bb=/bin/busybox
src=/edgeface/model.data
target="${1:-/model}"

fail() {
    echo "edgeface-model: error: $*" >&2
    exit 1
}

sha256_of() {
    $bb sha256sum "$1" | $bb cut -d ' ' -f 1
}

[ -r /edgeface/model.data.sha256 ] || fail "this image has no /edgeface/model.data.sha256: it was not built by the edgeface pipeline; rebuild it"
expected=$($bb cut -d ' ' -f 1 /edgeface/model.data.sha256)
[ -n "$expected" ] || fail "/edgeface/model.data.sha256 is empty: rebuild the image with the edgeface pipeline"
[ -d "$target" ] || fail "target directory $target does not exist: mount a volume there (e.g. the emptyDir shared with the web app)"

actual=$(sha256_of "$src")
[ "$actual" = "$expected" ] || fail "model.data in this image has sha256 $actual but was built with $expected: the image is corrupt; pull it again or rebuild it"

tmp="$target/.model.data.tmp.$$"
trap '$bb rm -f "$tmp"' EXIT
$bb cp "$src" "$tmp" || fail "cannot write into $target: make it writable for user $($bb id -u) (an emptyDir is) and check free space"
copied=$(sha256_of "$tmp")
[ "$copied" = "$expected" ] || fail "the copy in $target has sha256 $copied, expected $expected: check free space and the volume"
$bb chmod 0444 "$tmp"
$bb mv -f "$tmp" "$target/model.data"
trap - EXIT
echo "edgeface-model: delivered model ${EDGEFACE_MODEL_VERSION:-?} to $target/model.data ($($bb stat -c %s "$target/model.data") bytes, sha256 $expected)"
