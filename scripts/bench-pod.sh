#!/usr/bin/env bash
# The full live benchmark (`edgeface bench --cameras 4 --json`, 40 s measured after 10 s of warm-up,
# the whole-clip reference) against the web app in the real pod, for the README's figures.
#
#   scripts/bench-pod.sh OUT.json
#
# EDGEFACE_BENCH_POD_ARGS adds `edgeface bench` options after `--cameras 4` (later ones win), e.g.
# "--duration 60" or, for a quick try of the script, "--cameras 1 --duration 20".
#
# It plays the pod exactly as the suite does, by running the suite's own pod test with
# EDGEFACE_BENCH_POD_OUT set (tests/deploy/test_deploy_pod.py): the app image from
# scripts/build-app-image.sh (cached by its inputs), the model image from `edgeface pipeline run
# --local` in a local registry, `podman kube play` of the microshift-cpu overlay in a network
# namespace, the model from a real S3 in that namespace; then `edgeface bench --app-url` runs in
# the namespace, its cameras and viewers too, with the app's processes sampled from this host.
# Needs root (ip netns) and the suite's tools (scripts/install-deps.sh). Run it on a quiet machine:
# the figures count every other load on it. Takes about 5-10 minutes on 2 cores.
set -euo pipefail
out=${1:?usage: scripts/bench-pod.sh OUT.json}
out=$(realpath -m -- "$out")
mkdir -p -- "$(dirname -- "$out")"
rm -f -- "$out"
cd "$(dirname "$0")/.."
EDGEFACE_BENCH_POD_OUT="$out" python3 -m pytest -q -s -p no:cacheprovider \
  "tests/deploy/test_deploy_pod.py::test_pod_hot_reloads_from_the_store_rolls_back_and_is_benched"
test -s "$out" || { echo "bench-pod: no result in $out (see the output above)" >&2; exit 1; }
echo "bench-pod: wrote $out" >&2
